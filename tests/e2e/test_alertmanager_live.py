"""Inhibitions, grouping and the Watchdog, checked on the running Alertmanager's own API."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.support.polling import poll


def _alert(name: str, severity: str, service: str, instance: str) -> dict:
    labels = {"alertname": name, "severity": severity, "service": service, "instance": instance}
    return {"labels": labels, "annotations": {"summary": f"{name} (e2e)."}}


def _states(alertmanager, service: str, want: dict, timeout: float = 20) -> dict:
    """{(alertname, instance): state} of the service's alerts, once they equal `want` (or the
    last seen after `timeout`, for the assertion to show). Inhibition marks are updated shortly
    after the source alert arrives, so the states are polled."""
    path = "alerts?filter=" + quote(f'service="{service}"')
    deadline = time.monotonic() + timeout
    while True:
        states = {
            (a["labels"]["alertname"], a["labels"]["instance"]): a["status"]["state"]
            for a in alertmanager.get(path)
        }
        if states == want or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


@pytest.fixture
def post(alertmanager):
    """Post alerts; resolve them all at the end of the test."""
    posted: list[dict] = []

    def send(*alerts: dict) -> None:
        posted.extend(alerts)
        alertmanager.post(list(alerts))

    yield send
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alertmanager.post([{**alert, "endsAt": now} for alert in posted])


def test_bot_down_suppresses_its_own_symptoms_only(post, alertmanager):
    """BotDown inhibits the same bot's gateway alert, not another instance's, and not itself."""
    post(
        _alert("BotDown", "critical", "e2e-inhibit", "a:8000"),
        _alert("BotGatewayLatencyHigh", "warning", "e2e-inhibit", "a:8000"),
        _alert("BotGatewayLatencyHigh", "warning", "e2e-inhibit", "b:8000"),
    )
    want = {
        ("BotDown", "a:8000"): "active",
        ("BotGatewayLatencyHigh", "a:8000"): "suppressed",
        ("BotGatewayLatencyHigh", "b:8000"): "active",
    }
    assert _states(alertmanager, "e2e-inhibit", want) == want
    (gateway,) = alertmanager.get(
        "alerts?"
        + "&".join(
            "filter=" + quote(m)
            for m in (
                'service="e2e-inhibit"',
                'instance="a:8000"',
                'alertname="BotGatewayLatencyHigh"',
            )
        )
    )
    assert gateway["status"]["inhibitedBy"]


@pytest.mark.parametrize("shipper_alert", ["LogShipperDown", "LogShipperNotSending"])
def test_a_log_shipper_alert_mutes_silent_bot_logs_only(post, alertmanager, shipper_alert):
    """While the shipper is down, BotLogsSilent (a symptom) is muted; BotLogCritical is not."""
    shipper = {"labels": {"alertname": shipper_alert, "severity": "warning", "job": "promtail"}}
    post(
        shipper,
        _alert("BotLogsSilent", "warning", "e2e-shipper", "bot"),
        _alert("BotLogCritical", "critical", "e2e-shipper", "bot"),
    )
    want = {("BotLogsSilent", "bot"): "suppressed", ("BotLogCritical", "bot"): "active"}
    assert _states(alertmanager, "e2e-shipper", want) == want


def test_critical_suppresses_the_same_alerts_warning(post, alertmanager):
    """A critical alert inhibits the warning of the same alert name and service."""
    post(
        _alert("BotCommandsSlow", "critical", "e2e-severity", "a:8000"),
        _alert("BotCommandsSlow", "warning", "e2e-severity", "b:8000"),
    )
    want = {("BotCommandsSlow", "a:8000"): "active", ("BotCommandsSlow", "b:8000"): "suppressed"}
    assert _states(alertmanager, "e2e-severity", want) == want


def test_down_alerts_group_per_instance_and_others_per_service(post, alertmanager):
    """Two down instances make two groups; two other warnings of one service make one group."""
    post(
        _alert("BotDown", "critical", "e2e-group", "a:8000"),
        _alert("BotDown", "critical", "e2e-group", "b:8000"),
        _alert("BotCrashLooping", "warning", "e2e-group", "a:8000"),
        _alert("BotCrashLooping", "warning", "e2e-group", "b:8000"),
    )
    want = {
        (name, i): "active" for name in ("BotDown", "BotCrashLooping") for i in ("a:8000", "b:8000")
    }
    assert _states(alertmanager, "e2e-group", want) == want
    groups = [
        g for g in alertmanager.get("alerts/groups") if g["labels"].get("service") == "e2e-group"
    ]
    by_name = {}
    for group in groups:
        by_name.setdefault(group["labels"]["alertname"], []).append(group)
    assert sorted(g["labels"]["instance"] for g in by_name["BotDown"]) == ["a:8000", "b:8000"]
    (lag,) = by_name["BotCrashLooping"]
    assert "instance" not in lag["labels"] and len(lag["alerts"]) == 2


def test_watchdog_is_routed_to_no_chat(alertmanager, chats):
    """The real Watchdog from Prometheus reaches Alertmanager, routed to the chat-less receiver."""
    watchdog = poll(lambda: alertmanager.get("alerts?filter=alertname%3D%22Watchdog%22"), 30, 0.5)
    assert watchdog, "Prometheus never sent the Watchdog"
    assert [r["name"] for r in watchdog[0]["receivers"]] == ["heartbeat"]
    for fake in (chats.discord, chats.telegram):
        assert not [m for m in fake.messages if "Watchdog" in m.title]
