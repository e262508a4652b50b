"""Inhibitions, grouping and the Watchdog, checked on the running Alertmanager's own API."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest


def _alert(name: str, severity: str, service: str, instance: str) -> dict:
    labels = {"alertname": name, "severity": severity, "service": service, "instance": instance}
    return {"labels": labels, "annotations": {"summary": f"{name} (e2e)."}}


def _states(alertmanager, service: str, expected: int, timeout: float = 20) -> dict:
    """{(alertname, instance): alert} of the service once `expected` alerts are processed."""
    path = "alerts?filter=" + quote(f'service="{service}"')
    deadline = time.monotonic() + timeout
    while True:
        alerts = alertmanager.get(path)
        done = [a for a in alerts if a["status"]["state"] != "unprocessed"]
        if len(done) >= expected or time.monotonic() > deadline:
            return {(a["labels"]["alertname"], a["labels"]["instance"]): a for a in alerts}
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
    time.sleep(1)  # inhibitions are evaluated when Alertmanager lists the alerts
    alerts = _states(alertmanager, "e2e-inhibit", 3)
    assert alerts["BotDown", "a:8000"]["status"]["state"] == "active"
    gateway = alerts["BotGatewayLatencyHigh", "a:8000"]["status"]
    assert gateway["state"] == "suppressed"
    assert gateway["inhibitedBy"]
    assert alerts["BotGatewayLatencyHigh", "b:8000"]["status"]["state"] == "active"


def test_critical_suppresses_the_same_alerts_warning(post, alertmanager):
    """A critical alert inhibits the warning of the same alert name and service."""
    post(
        _alert("BotCommandsSlow", "critical", "e2e-severity", "a:8000"),
        _alert("BotCommandsSlow", "warning", "e2e-severity", "b:8000"),
    )
    time.sleep(1)
    alerts = _states(alertmanager, "e2e-severity", 2)
    assert alerts["BotCommandsSlow", "b:8000"]["status"]["state"] == "suppressed"
    assert alerts["BotCommandsSlow", "a:8000"]["status"]["state"] == "active"


def test_down_alerts_group_per_instance_and_others_per_service(post, alertmanager):
    """Two down instances make two groups; two warnings of one service make one group."""
    post(
        _alert("BotDown", "critical", "e2e-group", "a:8000"),
        _alert("BotDown", "critical", "e2e-group", "b:8000"),
        _alert("BotEventLoopLagHigh", "warning", "e2e-group", "a:8000"),
        _alert("BotEventLoopLagHigh", "warning", "e2e-group", "b:8000"),
    )
    _states(alertmanager, "e2e-group", 4)
    groups = [
        g for g in alertmanager.get("alerts/groups") if g["labels"].get("service") == "e2e-group"
    ]
    by_name = {}
    for group in groups:
        by_name.setdefault(group["labels"]["alertname"], []).append(group)
    assert sorted(g["labels"]["instance"] for g in by_name["BotDown"]) == ["a:8000", "b:8000"]
    (lag,) = by_name["BotEventLoopLagHigh"]
    assert "instance" not in lag["labels"] and len(lag["alerts"]) == 2


def test_watchdog_is_routed_to_no_chat(alertmanager, chats):
    """The real Watchdog from Prometheus reaches Alertmanager, routed to the chat-less receiver."""
    deadline = time.monotonic() + 30
    while not (watchdog := alertmanager.get("alerts?filter=alertname%3D%22Watchdog%22")):
        assert time.monotonic() < deadline, "Prometheus never sent the Watchdog"
        time.sleep(0.5)
    assert [r["name"] for r in watchdog[0]["receivers"]] == ["blackhole"]
    for fake in (chats.discord, chats.telegram):
        assert not [m for m in fake.messages if "Watchdog" in m.title]
