"""The long-term store (compose profile `longterm`) against real data.

The session stack's Prometheus runs the config `make up` renders for the profile
(prometheus.yml + prometheus/profiles/longterm.yml), remote-writing to a real VictoriaMetrics
started with compose.yaml's flags. A dashboard switched to VictoriaMetrics (its "Metrics" picker)
runs the same expressions there, and MetricsQL is not PromQL everywhere: so every Prometheus panel
query of every shipped dashboard is run on both, over the same closed window, and must find the
same series in both.
"""

from __future__ import annotations

import time

import pytest
import requests
import yaml
from stackctl.profiles import prometheus_config

from tests.support.grafana_dashboards import Query, queries
from tests.support.live_queries import run
from tests.support.polling import poll

# Remote write batches for up to 5s and VictoriaMetrics shows a sample once it is 30s old
# (-search.latencyOffset): a window that ends a minute ago is complete in both stores.
SETTLED_SECONDS = 60
WINDOW_SECONDS = 600
# Time for the bot panels to have data in Prometheus (as tests/e2e/test_dashboards_live.py), then
# for the last of it to reach VictoriaMetrics.
DEADLINE_SECONDS = 300
BOT_SERIES = "bot_build_info"
BOT_DASHBOARDS = {"overview.json", "commands.json"}


def prometheus_queries() -> list[Query]:
    return [q for q in queries(expanded=False) if q.language == "promql"]


def external_labels() -> set[str]:
    """prometheus.yml's external labels: remote write adds them, Prometheus' own TSDB has none."""
    return set(yaml.safe_load(prometheus_config({}))["global"]["external_labels"])


def series(url: str, query: Query, end: float) -> set[frozenset]:
    """The label sets a panel query finds in the window ending at `end`, external labels left out
    (a recording rule's series carries `env` only in VictoriaMetrics; panels group by service)."""
    leave_out = external_labels()
    return {
        frozenset((k, v) for k, v in s["metric"].items() if k not in leave_out)
        for s in run(url, query, WINDOW_SECONDS, end)
    }


def differences(prometheus: str, victoriametrics: str) -> dict[str, tuple[set, set]]:
    """Panel (where) → (only in Prometheus, only in VictoriaMetrics) for the queries that differ,
    and for the bot dashboards' queries that find nothing yet (the demo bot feeds every one of
    them, tests/e2e/test_dashboards_live.py; the stack dashboard's Loki, Promtail and Grafana
    panels have nothing to show without those services, and must then be empty in both)."""
    end = time.time() - SETTLED_SECONDS
    found = {}
    for query in prometheus_queries():
        in_prometheus = series(prometheus, query, end)
        in_vm = series(victoriametrics, query, end)
        if in_prometheus != in_vm or (not in_prometheus and query.dashboard in BOT_DASHBOARDS):
            found[query.where] = (in_prometheus - in_vm, in_vm - in_prometheus)
    return found


@pytest.fixture(scope="module")
def compared(prometheus, victoriametrics) -> dict[str, tuple[set, set]]:
    """The differences once the stores agree, or those left at the deadline."""
    bot_in_vm = poll(
        lambda: requests.get(
            f"{victoriametrics.url}/api/v1/series", params={"match[]": BOT_SERIES}, timeout=10
        ).json()["data"],
        120,
        every=5,
    )
    assert bot_in_vm, "no bot series reached VictoriaMetrics through remote_write"
    last: dict[str, dict] = {}

    def agree() -> bool:
        last["differences"] = differences(prometheus.url, victoriametrics.url)
        return not last["differences"]

    poll(agree, DEADLINE_SECONDS, every=15)
    return last["differences"]


def test_every_prometheus_panel_query_finds_the_same_series_in_victoriametrics(compared):
    """Each dashboard panel query finds in VictoriaMetrics exactly the series it finds in
    Prometheus over the same window: switching a dashboard to the long-term store changes nothing
    but how far back it reaches."""
    report = "\n".join(
        f"{where}\n  only in Prometheus: {sorted(map(dict, p), key=str)}"
        f"\n  only in VictoriaMetrics: {sorted(map(dict, v), key=str)}"
        for where, (p, v) in sorted(compared.items())
    )
    assert compared == {}, report


def test_the_replica_label_never_reaches_victoriametrics(compared, prometheus, victoriametrics):
    """Prometheus carries compose.yaml's `replica` external label, and longterm.yml drops it
    before remote write, so an HA pair's two copies are one series there."""
    config = requests.get(f"{prometheus.url}/api/v1/status/config", timeout=10).json()
    assert "replica: a" in config["data"]["yaml"]
    labels = requests.get(f"{victoriametrics.url}/api/v1/labels", timeout=10).json()["data"]
    assert "env" in labels  # the other external label does arrive
    assert "replica" not in labels
