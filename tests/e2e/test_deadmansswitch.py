"""The dead man's switch end to end: the real Prometheus fires the Watchdog, the real Alertmanager
pings a local heartbeat receiver through the rendered `url_file` webhook, and the pings stop once
Prometheus is gone.

Shortened time, explained: the shipped settings make a ping every minute and silence < 4 minutes
after Prometheus' last send (alertmanager.yml's Watchdog route; the bound itself is checked on the
shipped values in tests/config/alertmanager/test_routing.py). Here every duration that bound is made
of is divided by the same factor, 30 — Prometheus' resend delay (1m → the fast mode's 2s, so endsAt
is 8s ahead instead of 4m), and the Watchdog route's group_interval and repeat_interval — so the
pings come every 2s and the issue's 6-minute bound becomes 12s. The rule evaluation interval (the
fast 1s, not 10s/30) stays below the resend delay, where it does not count. Everything else is the
config `make up` renders for DEADMANSSWITCH_URL, with the secret file `make up` writes.
"""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from stackctl import testalert
from stackctl.alerting import render
from stackctl.checks import seconds
from stackctl.secretfiles import write_secrets

from tests.support.native_stack import (
    DEFAULT_RESEND_DELAY,
    FAST_RESEND_DELAY,
    REPO,
    Alertmanager,
    Prometheus,
)
from tests.support.net import free_port
from tests.support.polling import poll

SCALE = FAST_RESEND_DELAY / DEFAULT_RESEND_DELAY  # 1/30
SILENT_WITHIN = 6 * 60 * SCALE  # the "within 6 minutes", scaled


class HeartbeatReceiver:
    """A healthchecks.io-style ping URL: records (time, JSON body) of every POST, answers 200."""

    def __init__(self) -> None:
        self.pings: list[tuple[float, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.pings.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/ping/some-check-uuid"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _scaled(duration: str) -> str:
    return f"{round(seconds(duration) * SCALE * 1000)}ms"


@pytest.fixture
def receiver():
    heartbeat = HeartbeatReceiver()
    yield heartbeat
    heartbeat.close()


@pytest.fixture
def pipeline(tool, tmp_path, receiver):
    """Alertmanager rendered with DEADMANSSWITCH_URL (Watchdog route scaled) and Prometheus."""
    settings = {"DEADMANSSWITCH_URL": receiver.url}
    folder, secrets = tmp_path / "alertmanager", tmp_path / "secrets"
    write_secrets(settings, secrets)
    render(
        settings,
        folder,
        templates_dir=str(REPO / "alertmanager/templates"),
        secrets_dir=str(secrets),
    )
    config = yaml.safe_load((folder / "alertmanager.yml").read_text())
    (route,) = [r for r in config["route"]["routes"] if r["matchers"] == ['alertname="Watchdog"']]
    for key in ("group_interval", "repeat_interval"):
        route[key] = _scaled(route[key])
    (folder / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    am = Alertmanager(tool, tmp_path, folder / "alertmanager.yml")
    # No bot runs: its target is a closed port. The bot alerts that fire go to receivers with no
    # notifier (no chat channel is configured), so only the heartbeat is ever sent anywhere.
    prometheus = Prometheus(tool, tmp_path, f"127.0.0.1:{free_port()}", am, fast=True)
    try:
        am.start()
        prometheus.start()
        yield am, prometheus, settings, seconds(route["group_interval"])
    finally:
        prometheus.stop()
        am.stop()


def test_pings_every_interval_then_stop_once_prometheus_is_gone(pipeline, receiver, capsys):
    """The heartbeat gets the firing Watchdog at every flush (never a resolved notice), `make
    test-alert` reports it delivered, and after Prometheus stops the pings end within the (scaled)
    6 minutes, after which `make test-alert` says the Watchdog is missing."""
    am, prometheus, settings, interval = pipeline
    assert poll(lambda: len(receiver.pings) >= 5, 30, 0.2), (
        f"{len(receiver.pings)} pings\n{am.tail()}\n{prometheus.tail()}"
    )
    times = [at for at, _ in receiver.pings]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 0.75 * interval < statistics.median(gaps) < 1.5 * interval, gaps
    assert max(gaps) < 2 * interval, gaps  # no flush without a ping
    for _, body in receiver.pings:
        assert body["status"] == "firing"
        assert [a["labels"]["alertname"] for a in body["alerts"]] == ["Watchdog"]

    assert testalert.main(["--url", am.url, "--timeout", "10"], settings) == 0
    assert "✓ heartbeat ping delivered" in capsys.readouterr().out

    prometheus.stop()
    stopped = time.monotonic()
    # Watch for twice the bound: a heartbeat that went on would be seen.
    time.sleep(SILENT_WITHIN + 2 * interval)
    quiet_after = receiver.pings[-1][0] - stopped
    with capsys.disabled():
        print(f"\nlast ping {quiet_after:.1f}s after Prometheus stopped (bound {SILENT_WITHIN:g}s)")
    assert quiet_after < SILENT_WITHIN
    assert all(body["status"] == "firing" for _, body in receiver.pings)

    assert testalert.main(["--url", am.url, "--timeout", "5"], settings) == 1
    assert "✗ heartbeat no Watchdog in Alertmanager" in capsys.readouterr().out
