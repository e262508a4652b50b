"""Run one drill against a running stack and time each step of the alert's way to a chat.

The environment (the compose stack for `make drill`, native processes in tests) knows how to
switch a condition on and off and which channels were reached; the runner only watches:
condition on → firing in Prometheus → in Alertmanager → delivered to each channel, then condition
off → resolved in Prometheus → resolved in Alertmanager.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from . import promapi
from .catalog import Drill


class Environment(Protocol):
    prometheus: str  # base URLs
    alertmanager: str

    def begin(self, drill: Drill) -> None: ...  # make the condition
    def end(self, drill: Drill) -> None: ...  # stop it
    def subject(self, drill: Drill) -> dict[str, str]: ...  # labels that pick the drill's alert
    def ruler(self, drill: Drill) -> str: ...  # Prometheus, or Loki's /prometheus, API base
    def channels(self) -> list[str]: ...  # configured chat channels
    def delivered(self, channel: str, labels: Mapping[str, str], since: float) -> bool: ...


@dataclass
class Result:
    alert: str
    labels: dict[str, str]
    # Seconds from the condition: firing in Prometheus, in Alertmanager, per channel, resolved.
    firing: float | None = None
    alertmanager: float | None = None
    channels: dict[str, float | None] = field(default_factory=dict)
    resolved: float | None = None
    am_resolved: float | None = None
    fired_labels: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        def fmt(value: float | None) -> str:
            return "—" if value is None else f"{value:6.1f}s"

        out = [
            f"{self.alert} {self.labels}",
            f"  firing in Prometheus   {fmt(self.firing)}",
            f"  in Alertmanager        {fmt(self.alertmanager)}",
        ]
        out += [f"  delivered to {ch:10}{fmt(t)}" for ch, t in self.channels.items()]
        out += [
            f"  resolved (Prometheus)  {fmt(self.resolved)}  (after the condition stopped)",
            f"  resolved (Alertmanager){fmt(self.am_resolved)}",
        ]
        return out


def _wait(check: Callable[[], object], deadline: float, every: float = 1.0) -> bool:
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


def _am_active(env: Environment, labels: Mapping[str, str]) -> bool:
    alerts = promapi.alertmanager_alerts(env.alertmanager, labels)
    return any(a.get("status", {}).get("state") != "unprocessed" for a in alerts)


def run(env: Environment, drill: Drill, timeout: float, *, resolve_timeout: float | None = None):
    """Apply the drill, wait for each step (each within `timeout` s of the condition), undo it."""
    labels = {"alertname": drill.alert, **env.subject(drill)}
    result = Result(drill.alert, labels)
    ruler = env.ruler(drill)
    started = time.monotonic()
    deadline = started + timeout
    env.begin(drill)
    try:
        if _wait(lambda: promapi.firing(ruler, labels), deadline):
            result.firing = time.monotonic() - started
            fired = [
                a for a in promapi.prometheus_alerts(ruler)
                if promapi.matches(a["labels"], labels)
            ]  # fmt: skip
            result.fired_labels = dict(fired[0]["labels"]) if fired else {}
            if _wait(lambda: _am_active(env, labels), deadline):
                result.alertmanager = time.monotonic() - started
            # info alerts are batched or (Watchdog) kept out of chat: no channel to wait for.
            channels = [] if result.fired_labels.get("severity") == "info" else env.channels()
            for channel in channels:
                ok = _wait(lambda c=channel: env.delivered(c, labels, started), deadline)
                result.channels[channel] = time.monotonic() - started if ok else None
    finally:
        env.end(drill)
    if not drill.resolves or result.firing is None:
        return result
    stopped = time.monotonic()
    deadline = stopped + (resolve_timeout or timeout)
    if _wait(lambda: not promapi.firing(ruler, labels), deadline):
        result.resolved = time.monotonic() - stopped
        if _wait(lambda: not _am_active(env, labels), deadline):
            result.am_resolved = time.monotonic() - stopped
    return result
