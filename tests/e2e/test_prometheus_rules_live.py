"""The project's rules on the real Prometheus, scraping the real demo bot.

promtool proves syntax and the unit tests prove the logic on hand-written series; this proves that
the rules evaluate without runtime errors (vector matching, many-to-many) on the label shapes the
library really exports, that the recording rules dashboards depend on have data, and that the
`env` external label is expanded from the environment by the real binary.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from tests.config.prometheus.conftest import rules
from tests.support.polling import poll

DEADLINE = 90  # seconds; with the fast 1s scrape and evaluation most data is there within 10s


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)["data"]


def _query(prometheus, expr: str) -> list[dict]:
    return _get(f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))[
        "result"
    ]


def _wait_for(check, what: str):
    result = poll(check, DEADLINE)
    assert result, f"no {what} within {DEADLINE}s"
    return result


def test_every_rule_evaluates_without_error(prometheus):
    """Each loaded rule has been evaluated and reports health ok, none with a lastError."""
    names = {rule.alert or rule.record for rule in rules()}

    def evaluated():
        loaded = [r for g in _get(f"{prometheus.url}/api/v1/rules")["groups"] for r in g["rules"]]
        done = all(r.get("lastEvaluation", "").startswith("2") for r in loaded)
        return loaded if done and {r["name"] for r in loaded} == names else None

    loaded = _wait_for(evaluated, "evaluation of every rule")
    failing = {r["name"]: r.get("lastError") for r in loaded if r["health"] != "ok"}
    assert failing == {}


@pytest.mark.parametrize(
    "record",
    [
        "service:bot_commands:rate5m",
        "service_status:bot_commands:rate5m",
        "service_command:bot_commands:rate5m",
        "service:bot_command_duration_seconds:p50_rate5m",
        "service:bot_command_duration_seconds:p95_rate5m",
        "service_command:bot_command_duration_seconds:p95_rate5m",
        "service:bot_event_loop_lag_seconds:p99_rate5m",
        "service_level:bot_log_records:rate5m",
        "service:bot_slo_objective:ratio",
        "service:bot_command_errors:ratio_rate5m",
        "service:bot_command_errors:burn_rate1h",
        "service:bot_command_errors:ratio_rate30d",
        "service:bot_slo_error_budget_remaining:ratio",
        "service:bot_slo_latency_objective:ratio",
        "service:bot_command_slow:ratio_rate5m",
        "service:bot_command_slow:burn_rate1h",
        "service:bot_slo_latency_budget_remaining:ratio",
    ],
)
def test_recording_rule_has_data_for_the_demo_bot(prometheus, record):
    """The recording rules the dashboards and alerts read produce a series for service="bot"."""
    series = _wait_for(lambda: _query(prometheus, f'{record}{{service="bot"}}'), record)
    assert all(s["metric"]["service"] == "bot" for s in series)


def test_env_external_label_is_expanded_from_the_environment(alertmanager):
    """Alerts reach Alertmanager with env from BOTWATCH_ENV (the fixture sets "e2e")."""

    def watchdog():
        alerts = alertmanager.get("alerts?filter=" + urllib.parse.quote('alertname="Watchdog"'))
        return alerts or None

    (alert,) = _wait_for(watchdog, "Watchdog alert in Alertmanager")
    assert alert["labels"]["env"] == "e2e"
