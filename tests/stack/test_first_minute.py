"""A fresh stack's first minute: no service writes an error-level line (what `make logs` shows).

"Error-level" is each service's own level field: `level=error` in the logfmt lines of Prometheus,
Alertmanager, Loki, Promtail and Grafana (Go's slog writes `level=ERROR`), `"level": "error"` in
JSON lines (the bot, DESIGN §5); critical, fatal and panic count too. The demo bot's own simulated
failures (loggers `demo.*`) are its traffic, not a fault of the stack, and are left out.

Needs Docker (`make test-stack`); skipped with the reason otherwise, by the compose_stack fixture.
Named to run before tests/stack/test_restore.py, which replaces the containers (and their logs).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.support.stack_api import timestamp

pytestmark = pytest.mark.stack

FIRST_MINUTE = timedelta(seconds=60)
LOGFMT_LEVEL = re.compile(r'(?:^|\s)level="?([A-Za-z]+)')
ERROR_LEVELS = {"error", "err", "critical", "crit", "fatal", "panic", "alert", "emerg"}
SIMULATED = ("demo",)  # the demo bot's traffic loggers (botwatch/demo/)


def level_of(line: str) -> str | None:
    """The line's own level: a JSON object's `level`, or logfmt's `level=`; None if neither."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            if str(record.get("logger", "")).startswith(SIMULATED):
                return None
            return str(record.get("level", "")).lower() or None
    match = LOGFMT_LEVEL.search(line)
    return match.group(1).lower() if match else None


class TestLevelParsing:
    @pytest.mark.parametrize(
        ("line", "level"),
        [('time=2026-12-01T10:00:00Z level=ERROR source=main.go msg="boom"', "error"),
         ('logger=provisioning t=2026-12-01T10:00:00Z level=error msg="x"', "error"),
         ('{"level":"critical","logger":"botwatch","message":"m"}', "critical"),
         ('{"level":"error","logger":"demo.traffic","message":"simulated"}', None),
         ("ts=2026-12-01T10:00:00Z caller=x level=info msg=ok", "info")],
    )  # fmt: skip
    def test_each_services_level_field_is_read(self, line, level):
        """logfmt (any case) and JSON levels are read; the demo's simulated failures are not."""
        assert level_of(line) == level


def test_no_service_logs_an_error_in_its_first_minute(compose_stack, docker_client):
    """Every container's log lines from its first 60 s carry no error-level field."""
    containers = docker_client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={compose_stack.project}"}
    )
    assert containers
    errors = []
    for container in containers:
        service = container.labels["com.docker.compose.service"]
        started = timestamp(container.attrs["State"]["StartedAt"])
        for raw in container.logs(timestamps=True).decode(errors="replace").splitlines():
            stamp, _, line = raw.partition(" ")
            if timestamp(stamp) - started > FIRST_MINUTE:
                break
            if level_of(line) in ERROR_LEVELS:
                errors.append(f"{service}: {line}")
    assert errors == []
