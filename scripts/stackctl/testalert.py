"""`make test-alert`: send a marked test alert through the running Alertmanager, report delivery.

The alert (alertname BotwatchTestAlert, its own route to every configured channel) goes in through
Alertmanager's API. Whether each channel got it is read from Alertmanager's own counters, per
integration: a notification request that did not fail means the channel's API accepted the
message; `alertmanager_notifications_failed_total` says it gave up, and why (its `reason` label).
Then the alert is resolved, so the channel also shows the resolved notice.

With the dead man's switch on (DEADMANSSWITCH_URL), it also checks that heartbeat: the Watchdog
must be firing in Alertmanager, and the next ping (at most a minute away) must be accepted — read
from the same counters, integration `webhook` (the only webhook notifier the stack renders).

The counters are Alertmanager-wide: another alert notified in the same seconds counts too. On a
quiet stack (the normal case for this command) that does not happen.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from . import envfile
from .alerting import configured_channels, deadmansswitch_url
from .up import local_host

ROOT = Path(__file__).resolve().parents[2]
ALERTNAME = "BotwatchTestAlert"
# The heartbeat receiver pings every minute (alertmanager.yml); wait a little longer than that.
HEARTBEAT_TIMEOUT = 75.0
_SAMPLE_RE = re.compile(r"^(alertmanager_notification\w*_total)\{([^}]*)\}\s+(\S+)$")
HINTS = {
    "discord": "check DISCORD_WEBHOOK_URL (deleted webhook → 404, wrong URL → 401/404)",
    "telegram": "check TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID, and that the bot is in the chat",
    "webhook": "check DEADMANSSWITCH_URL (the heartbeat check's ping URL)",
}


def counters(url: str) -> dict[tuple[str, str, str], float]:
    """{(metric, integration, reason): value} of Alertmanager's notification counters."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    totals: dict[tuple[str, str, str], float] = defaultdict(float)
    for line in text.splitlines():
        match = _SAMPLE_RE.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2]))
            key = (match[1], labels.get("integration", ""), labels.get("reason", ""))
            totals[key] += float(match[3])
    return dict(totals)


def post_alerts(url: str, alerts: list[dict]) -> None:
    """POST alerts to Alertmanager's v2 API (what Prometheus does)."""
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def marked_alert(test_id: str, *, resolved: bool = False) -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    alert = {
        "labels": {
            "alertname": ALERTNAME,
            "severity": "info",
            "service": "botwatch",
            "test_id": test_id,
        },
        "annotations": {
            "summary": "🧪 Test notification from `make test-alert`: nothing is wrong.",
            "description": f"Sent at {now} to check that alerts reach this channel.",
            "dashboard_url": "d/botwatch-alerts",
        },
    }
    alert["endsAt" if resolved else "startsAt"] = now
    return alert


def _increase(after: Mapping, before: Mapping, metric: str, channel: str) -> dict[str, float]:
    """Increase per reason ("" for counters without one) of metric for channel."""
    return {
        reason: value - before.get((name, integration, reason), 0.0)
        for (name, integration, reason), value in after.items()
        if name == metric
        and integration == channel
        and value > before.get((name, integration, reason), 0.0)
    }


def wait_for_delivery(
    url: str, channels: list[str], before: Mapping, timeout: float
) -> dict[str, str]:
    """Per channel: "delivered", "failed (<reasons>)" or "no attempt", once each is decided."""
    outcome: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(outcome) < len(channels) and time.monotonic() < deadline:
        time.sleep(1)
        now = counters(url)
        for channel in [c for c in channels if c not in outcome]:
            sent = sum(
                _increase(now, before, "alertmanager_notification_requests_total", channel).values()
            )
            refused = sum(
                _increase(
                    now, before, "alertmanager_notification_requests_failed_total", channel
                ).values()
            )
            failed = _increase(now, before, "alertmanager_notifications_failed_total", channel)
            if sent - refused >= 1:
                outcome[channel] = "delivered"
            elif failed:
                outcome[channel] = f"failed ({', '.join(sorted(failed)) or 'unknown reason'})"
    return {channel: outcome.get(channel, "no attempt") for channel in channels}


def watchdog_firing(url: str) -> bool:
    """Whether Alertmanager holds an active Watchdog (Prometheus is sending it)."""
    path = "/api/v2/alerts?active=true&filter=alertname%3D%22Watchdog%22"
    with urllib.request.urlopen(f"{url}{path}", timeout=10) as response:
        return bool(json.load(response))


def check_heartbeat(url: str, before: Mapping, timeout: float) -> bool:
    """Report the dead man's switch: Watchdog firing, and its next ping accepted."""
    if not watchdog_firing(url):
        print(
            "  ✗ heartbeat no Watchdog in Alertmanager, so nothing is pinged: Prometheus is not "
            "sending alerts (docs/runbooks/Watchdog.md)"
        )
        return False
    print("  … heartbeat Watchdog is firing; waiting for its next ping (at most a minute)…")
    result = wait_for_delivery(url, ["webhook"], before, timeout)["webhook"]
    ok = result == "delivered"
    hint = "" if ok else f" — {HINTS['webhook']}"
    print(f"  {'✓' if ok else '✗'} heartbeat ping {result}{hint}")
    return ok


def _settings() -> dict[str, str]:
    settings = envfile.load(ROOT / ".env.example").values
    if (ROOT / ".env").exists():
        settings.update(envfile.load(ROOT / ".env").values)
    return settings


def _default_url(settings: Mapping[str, str]) -> str:
    return f"http://{local_host(settings)}:{settings.get('ALERTMANAGER_PORT', '9093') or '9093'}"


def _test_channels(url: str, channels: list[str], timeout: float) -> bool:
    """Send the marked alert to the chat channels, report each, resolve it; True if all got it."""
    test_id = secrets.token_hex(4)
    before = counters(url)
    post_alerts(url, [marked_alert(test_id)])
    print(f"Sent test alert {ALERTNAME} (test_id={test_id}) to {', '.join(channels)}; waiting…")
    fired = wait_for_delivery(url, channels, before, timeout)
    for channel, result in fired.items():
        mark = "✓" if result == "delivered" else "✗"
        hint = "" if result == "delivered" else f" — {HINTS[channel]}"
        print(f"  {mark} {channel:9} {result}{hint}")
    before = counters(url)
    post_alerts(url, [marked_alert(test_id, resolved=True)])
    delivered = [c for c, result in fired.items() if result == "delivered"]
    resolved = wait_for_delivery(url, delivered, before, timeout)
    for channel, result in resolved.items():
        print(f"  {'✓' if result == 'delivered' else '✗'} {channel:9} resolved notice {result}")
    return all(result == "delivered" for result in fired.values())


def main(argv: list[str], settings: Mapping[str, str] | None = None) -> int:
    """Run `make test-alert`; settings default to .env over .env.example. Exit code 0 when every
    configured channel received the test alert and, with DEADMANSSWITCH_URL, the heartbeat works."""
    settings = _settings() if settings is None else settings
    parser = argparse.ArgumentParser(prog="make test-alert", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=_default_url(settings), help="Alertmanager API URL")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait per phase")
    args = parser.parse_args(argv)
    channels = configured_channels(settings)
    heartbeat = bool(deadmansswitch_url(settings))
    if not channels and not heartbeat:
        print(
            "No alert channel is configured, so there is nothing to test: set DISCORD_WEBHOOK_URL "
            "and/or TELEGRAM_BOT_TOKEN + TELEGRAM_CHAT_ID (or DEADMANSSWITCH_URL) in .env, run "
            "`make up`, then try again."
        )
        return 1
    try:
        start = counters(args.url)
        ok = _test_channels(args.url, channels, args.timeout) if channels else True
        if heartbeat:
            ok = check_heartbeat(args.url, start, max(args.timeout, HEARTBEAT_TIMEOUT)) and ok
    except (urllib.error.URLError, OSError) as exc:
        print(f"Alertmanager does not answer at {args.url} ({exc}). Is the stack up? `make up`")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
