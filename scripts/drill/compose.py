"""The running compose stack as a drill environment (`make drill`).

Switches go to the demo bot through `docker compose exec bot python -m botwatch.demo.drills`;
stopping a service is `docker compose stop/start <service>`; taking a bot out of service discovery
uses a file_sd file in prometheus/targets/ (mounted into Prometheus) for a second copy of the bot's
target, labelled service="drill-target-missing", which the drill lists, then removes, then lists
again, and finally removes under a one-hour silence (the rule remembers a vanished target for an
hour). Rule-file drills drop a file into prometheus/rules/ and reload Prometheus (SIGHUP); the
Alertmanager one breaks the rendered config in .generated/ and reloads, then restores it.
Delivery to each channel is read from Alertmanager's own counters, as `make test-alert` does.
Loki's 5xx drill writes a rule group to its ruler API every second: the rule store is local and
read-only, so Loki answers each with 500. Drills with an `off_stack` reason are refused here.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stackctl.alerting import configured_channels
from stackctl.docker import Compose
from stackctl.profiles import log_shipper
from stackctl.testalert import _increase, _settings, counters
from stackctl.up import local_host

from . import catalog as c
from .breakage import FAILING_RULES, UNPARSABLE_ALERTMANAGER, UNPARSABLE_RULES
from .catalog import STOP_BOT, UNLIST_BOT, Drill

ROOT = Path(__file__).resolve().parents[2]
MISSING_SERVICE = "drill-target-missing"
TARGET_FILE = ROOT / "prometheus" / "targets" / "drill-target-missing.yml"
RULE_FILE = ROOT / "prometheus" / "rules" / "zz-drill.yml"
AM_CONFIG = ROOT / ".generated" / "alertmanager" / "alertmanager.yml"
# Services a drill stops, and the labels of the alert that names them.
STOPS = {
    c.ALERTMANAGER_DOWN: ("alertmanager", {}),
    c.STOP_COMPONENT: ("loki", {"job": "loki"}),
    c.STOP_GRAFANA: ("grafana", {}),
    c.STOP_LOKI: ("loki", {}),
    c.STOP_AM_PEER: ("alertmanager-2", {"job": "alertmanager"}),  # the `ha` profile's second
}
# What the Loki drill writes: a valid rule group, which the local rule store cannot take.
DRILL_RULE_GROUP = (
    "name: drill\nrules:\n  - alert: Drill\n    expr: 'sum(rate({job=\"drill\"}[1m])) > 1'\n"
)


def write_rule_group(loki: str) -> int:
    """POST the drill's rule group to Loki's ruler API; returns the HTTP status. With the local
    rule store (loki/loki.yml), Loki answers 500: "SetRuleGroup unsupported in rule local store"."""
    request = urllib.request.Request(
        f"{loki}/loki/api/v1/rules/drill", data=DRILL_RULE_GROUP.encode(), method="POST",
        headers={"Content-Type": "application/yaml"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        refused.close()
        return refused.code


class ComposeEnvironment:
    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.settings = dict(_settings() if settings is None else settings)
        host = local_host(self.settings)
        self.prometheus = f"http://{host}:{self.settings.get('PROMETHEUS_PORT') or 9090}"
        self.alertmanager = f"http://{host}:{self.settings.get('ALERTMANAGER_PORT') or 9093}"
        self.compose = Compose(ROOT)
        self._before: dict = {}
        self._am_config = ""
        # The shipper `make up` runs for these profiles is the one the alert expects.
        shipper = log_shipper(self.settings)
        self.stops = {**STOPS, c.STOP_SHIPPER: (shipper, {"job": shipper})}
        self._writing = threading.Event()

    def subject(self, drill: Drill) -> dict[str, str]:
        if drill.action in self.stops:
            return dict(self.stops[drill.action][1])
        if drill.switch is None and drill.action not in (UNLIST_BOT, STOP_BOT):
            return {}
        return {"service": MISSING_SERVICE if drill.action == UNLIST_BOT else "bot"}

    def ruler(self, drill: Drill) -> str:
        return f"{self._loki()}/prometheus" if drill.loki else self.prometheus

    def _switches(self, *names: str) -> None:
        command = ["exec", "-T", "bot", "python", "-m", "botwatch.demo.drills"]
        self.compose.run(*command, *(["set", *names] if names else ["clear"]))

    def _list_target(self) -> None:
        entry = [{"targets": ["bot:8000"], "labels": {"service": MISSING_SERVICE}}]
        TARGET_FILE.write_text(json.dumps(entry) + "\n")  # JSON is YAML

    def _rule_file(self, content: str | None) -> None:
        if content is None:
            RULE_FILE.unlink(missing_ok=True)
        else:
            RULE_FILE.write_text(content)
        self.compose.run("kill", "-s", "SIGHUP", "prometheus")

    def _loki(self) -> str:
        return f"http://{local_host(self.settings)}:{self.settings.get('LOKI_PORT') or 3100}"

    def _push_old_line(self) -> None:
        """One line stamped 30 days ago, older than Loki's reject_old_samples_max_age (7 days)."""
        at = int((datetime.now(UTC) - timedelta(days=30)).timestamp() * 1e9)
        body = {"streams": [{"stream": {"job": "drill"}, "values": [[str(at), "drill: too old"]]}]}
        request = urllib.request.Request(
            f"{self._loki()}/loki/api/v1/push",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as refused:  # 400: the line is discarded, as intended
            refused.close()

    def begin(self, drill: Drill) -> None:
        if drill.off_stack:
            raise SystemExit(
                f"{drill.alert}: not drilled on a running stack ({drill.off_stack}); `make test` "
                "proves it on processes of its own (tests/e2e/test_drills.py)"
            )
        self._before = counters(self.alertmanager)
        if drill.switch:
            self._switches(drill.switch)
        elif drill.action == STOP_BOT:
            self.compose.run("kill", "bot")  # a crash: `stop` would announce a planned stop
        elif drill.action == UNLIST_BOT:
            self._list_target()
            time.sleep(90)  # scraped for a while first: the rule needs it to have existed
            TARGET_FILE.unlink()
        elif drill.action in self.stops:
            self.compose.run("stop", self.stops[drill.action][0])
        elif drill.action == c.BAD_RULE_FILE:
            self._rule_file(UNPARSABLE_RULES)
        elif drill.action == c.FAILING_RULE:
            self._rule_file(FAILING_RULES)
        elif drill.action == c.AM_BAD_CONFIG:
            self._am_config = AM_CONFIG.read_text()
            AM_CONFIG.write_text(UNPARSABLE_ALERTMANAGER)
            self.compose.run("kill", "-s", "SIGHUP", "alertmanager")
        elif drill.action == c.OLD_LOG_LINE:
            self._push_old_line()
        elif drill.action == c.LOKI_RULE_WRITES:
            self._writing.clear()
            threading.Thread(target=self._write_rules, daemon=True).start()

    def end(self, drill: Drill) -> None:
        if drill.switch:
            self._switches()
            if drill.restart_after:
                self.compose.run("restart", "bot")
        elif drill.action == STOP_BOT:
            self.compose.run("start", "bot")
        elif drill.action == UNLIST_BOT:
            self._list_target()
        elif drill.action in self.stops:
            self.compose.run("start", self.stops[drill.action][0])
        elif drill.action in (c.BAD_RULE_FILE, c.FAILING_RULE):
            self._rule_file(None)
        elif drill.action == c.AM_BAD_CONFIG:
            AM_CONFIG.write_text(self._am_config)
            self.compose.run("kill", "-s", "SIGHUP", "alertmanager")
        elif drill.action == c.LOKI_RULE_WRITES:
            self._writing.set()

    def _write_rules(self) -> None:
        """Until the drill ends: a rule group a second to Loki's ruler API, each refused with a
        500, the 5xx LokiRequestErrors counts."""
        while not self._writing.wait(1):
            with contextlib.suppress(OSError):  # Loki restarting: the next second tries again
                write_rule_group(self._loki())

    def finish(self, drill: Drill) -> None:
        """After the drill: the extra target goes, silenced for the hour the rule remembers it."""
        if drill.action == UNLIST_BOT and TARGET_FILE.exists():
            TARGET_FILE.unlink()
            self._silence({"alertname": drill.alert, "service": MISSING_SERVICE}, hours=1)

    def _silence(self, labels: Mapping[str, str], hours: float) -> None:
        now = datetime.now(UTC)
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False} for k, v in labels.items()],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=hours)).isoformat(),
            "createdBy": "make drill",
            "comment": "drill target removed on purpose",
        }
        request = urllib.request.Request(
            f"{self.alertmanager}/api/v2/silences", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10):
            pass

    def channels(self) -> list[str]:
        return configured_channels(self.settings)

    def delivered(self, channel: str, labels: Mapping[str, str], since: float) -> bool:
        """A notification request to the channel succeeded since the drill began (the counters
        are Alertmanager-wide: on a busy stack another alert can count)."""
        now = counters(self.alertmanager)
        sent = sum(
            _increase(
                now, self._before, "alertmanager_notification_requests_total", channel
            ).values()
        )
        refused = sum(
            _increase(
                now, self._before, "alertmanager_notification_requests_failed_total", channel
            ).values()
        )
        return sent - refused >= 1
