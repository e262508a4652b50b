"""The HA pair of the `ha` profile with the real binaries: two Prometheus replicas, each with the
rendered `longterm` config and compose.yaml's environment of `prometheus` (replica a) and
`prometheus-2` (replica b), scraping one demo bot and sending to one Alertmanager and one
VictoriaMetrics (compose.yaml's flags). The two differ only in `replica`, which both drop on the
way out, so downstream sees one copy: one alert per alert, one series per series.
"""

from __future__ import annotations

import pytest
import requests

from tests.support.chat_fakes import ChatFakes
from tests.support.native_stack import (
    Alertmanager,
    DemoBot,
    Prometheus,
    VictoriaMetrics,
    compose_environment,
    write_alertmanager_config,
)
from tests.support.polling import poll

REPLICAS = {"prometheus": "a", "prometheus-2": "b"}


def query(url: str, expr: str) -> list[dict]:
    """An instant query's result on a Prometheus-compatible API."""
    response = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    return response.json()["data"]["result"]


@pytest.fixture(scope="module")
def pair(tool, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ha-pair")
    with ChatFakes() as fakes:
        bot = DemoBot(workdir)
        config = write_alertmanager_config(workdir / "alertmanager", fakes, fast=True)
        alertmanager = Alertmanager(tool, workdir, config)
        store = VictoriaMetrics(tool, workdir)
        replicas = [
            Prometheus(
                tool, workdir, bot.target, alertmanager, fast=True, longterm=store, service=name
            )
            for name in REPLICAS
        ]
        processes = [bot, alertmanager, store, *replicas]
        try:
            for process in processes:
                process.start()
            yield alertmanager, store, replicas
        finally:
            for process in reversed(processes):
                process.stop()


def test_the_replicas_differ_in_their_replica_name(pair):
    """compose.yaml names them a and b, and each runs with its own."""
    assert {name: compose_environment(name)["PROMETHEUS_REPLICA"] for name in REPLICAS} == REPLICAS
    for replica in pair[2]:
        config = requests.get(f"{replica.url}/api/v1/status/config", timeout=10).json()
        assert f"replica: {REPLICAS[replica.name]}" in config["data"]["yaml"]


def test_an_alert_from_both_replicas_is_one_alert(pair):
    """Both replicas send Watchdog; Alertmanager holds one Watchdog, without `replica`."""
    alertmanager, _, replicas = pair

    def sent(replica: Prometheus) -> bool:
        result = query(replica.url, "sum(prometheus_notifications_sent_total)")
        return bool(result) and float(result[0]["value"][1]) > 0

    assert poll(lambda: all(sent(r) for r in replicas), 90, every=2), "a replica sent nothing"
    watchdogs = alertmanager.get("alerts?filter=alertname%3D%22Watchdog%22")
    assert len(watchdogs) == 1
    assert "replica" not in watchdogs[0]["labels"]


def test_victoriametrics_keeps_one_series_and_one_sample_per_interval(pair):
    """Each replica writes the bot's `up` every second; VictoriaMetrics holds one series of it,
    with one sample per 10s dedup interval rather than two replicas' worth."""
    _, store, replicas = pair
    window = 'count_over_time(up{job="bot"}[1m])'

    def in_vm() -> float:
        result = query(store.url, window)
        return float(result[0]["value"][1]) if result else 0

    # Remote write and -search.latencyOffset (30s) delay what a query sees: wait for a full minute.
    assert poll(lambda: in_vm() >= 5, 150, every=5)
    (series,) = query(store.url, 'up{job="bot"}')
    assert "replica" not in series["metric"]
    # Replica a alone holds about one sample a second; the two together wrote twice that.
    assert float(query(replicas[0].url, window)[0]["value"][1]) >= 40
    assert 5 <= in_vm() <= 8
