"""The bot dashboards against real data: Prometheus scraping the demo bot, rules loaded.

Uses the session fixtures of tests/e2e/conftest.py (`prometheus`, `alertmanager`: the real
binaries with the project's configuration, fast timings).

Every panel query of the bot dashboards (overview, commands) must return data within a few
minutes of the demo bot starting: a wrong label, a metric the bot does not export or a recording
rule that never evaluates shows up here as an empty panel. (Their firing-alert panels are alert
lists, which run no query: they read Prometheus's rules API, checked here against Watchdog.)
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.support.grafana_dashboards import Query, alert_lists, queries, variable_selectors
from tests.support.live_queries import run
from tests.support.polling import poll
from tests.support.stack_metrics import STACK_METRICS

BOT_DASHBOARDS = {"overview.json", "commands.json"}
# Enough for the 5m recording rules to have two evaluations of a non-empty window, for the 1m SLO
# group to run, and for the demo's first incident (the harness starts it 5s after the bot) to have
# produced an error of each kind, slow commands and a reconnect.
DEADLINE_SECONDS = 180


def core_queries() -> list[Query]:
    """PromQL queries of the bot dashboards' panels."""
    return [
        q
        for q in queries(expanded=False)
        if q.language == "promql" and q.dashboard in BOT_DASHBOARDS
    ]


def has_data(prometheus: str, query: Query, range_seconds: int) -> bool:
    """Whether the query returns at least one sample over the last `range_seconds`."""
    return bool(run(prometheus, query, range_seconds))


@pytest.fixture(scope="module")
def empty_queries(prometheus) -> set[tuple[str, str]]:
    """(dashboard, panel) of the core queries still without data when the deadline passed."""
    started = time.monotonic()
    pending = core_queries()
    assert len(pending) > 20
    while True:
        window = max(60, int(time.monotonic() - started) + 60)
        pending = [q for q in pending if not has_data(prometheus.url, q, window)]
        if not pending or time.monotonic() - started > DEADLINE_SECONDS:
            break
        time.sleep(10)
    return {(q.dashboard, q.panel) for q in pending}


def test_core_panels_return_data(empty_queries):
    """Within three minutes of scraping the demo bot, every core bot panel query has data."""
    assert empty_queries == set()


@pytest.mark.parametrize("component", ["prometheus", "alertmanager"])
def test_stack_metric_names_exist_in_the_real_binaries(component, prometheus, alertmanager):
    """The Prometheus and Alertmanager metric names the dashboards use exist in the binaries."""
    url = {"prometheus": prometheus.url, "alertmanager": alertmanager.url}[component]
    exposition = requests.get(f"{url}/metrics", timeout=10).text
    exposed = set(re.findall(r"^([a-zA-Z_:][\w:]*)[{ ]", exposition, re.M))
    assert STACK_METRICS[component] - exposed == set()


def test_bot_variables_have_values(prometheus, empty_queries):  # after the wait for data
    """The bot dashboards' variables (bot, command) list values: their selectors match series."""
    for where, selector in variable_selectors():
        response = requests.get(
            f"{prometheus.url}/api/v1/query", params={"query": selector}, timeout=10
        )
        assert response.json()["data"]["result"], f"{where}: {selector} matches nothing"


def firing_alert_labels(prometheus: str) -> list[dict[str, str]]:
    """Labels of every firing alert in Prometheus's rules API (what Grafana's alert list reads)."""
    body = requests.get(f"{prometheus}/api/v1/rules", params={"type": "alert"}, timeout=10).json()
    return [
        alert["labels"]
        for group in body["data"]["groups"]
        for rule in group["rules"]
        for alert in rule.get("alerts", [])
        if alert["state"] == "firing"
    ]


def test_alert_lists_leave_out_the_real_watchdog(prometheus):
    """Watchdog fires in the rules API the alert lists read, and every alert list drops it."""
    watchdog = poll(
        lambda: [
            labels
            for labels in firing_alert_labels(prometheus.url)
            if labels.get("alertname") == "Watchdog"
        ],
        60,  # the first rule evaluation after startup
        every=2,
    )
    assert watchdog
    lists = alert_lists()
    assert lists
    for alert_list in lists:
        assert not any(alert_list.shows(labels) for labels in watchdog), alert_list.where
