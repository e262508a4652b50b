"""A fresh stack's first minute: no service writes an error-level line (what `make logs` shows).

"Error-level" is each service's own level field (tests/support/log_levels.py): logfmt `level=`
or a JSON line's `level`. The demo bot's own simulated failures are its traffic, not a fault of
the stack, and are left out.

Needs Docker (`make test-stack`); skipped with the reason otherwise, by the compose_stack fixture.
Named to run before tests/stack/test_restore.py, which replaces the containers (and their logs).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.log_levels import ERROR_LEVELS, level_of
from tests.support.stack_api import timestamp

pytestmark = pytest.mark.stack

FIRST_MINUTE = timedelta(seconds=60)


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
