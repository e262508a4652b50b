"""Logs in the running stack: promtail ships the bot's JSON lines to Loki with the documented labels
and structured metadata, reads no container it was not asked to, a restart repeats nothing, and a
log alert reaches Alertmanager.

Needs Docker (`make test-stack`); skipped with the reason otherwise, by the compose_stack fixture.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from tests.support.stack_api import Loki, wait_for

pytestmark = pytest.mark.stack

STREAM_LABELS = {"container", "service", "env", "job", "level", "host", "service_name"}
LEVELS = {"debug", "info", "warning", "error", "critical", "unknown"}
BOT_IMAGE = "botwatch-bot:local"  # built by the stack (compose.yaml, service bot)


@pytest.fixture(scope="module")
def loki(compose_stack) -> Loki:
    return Loki(compose_stack.urls["loki"])


@pytest.fixture(scope="module")
def started() -> float:
    """A time before any test here ran: queries start from a little before it."""
    return time.time() - 3600


def test_loki_is_ready(compose_stack):
    """Loki answers /ready with 200."""
    response = requests.get(compose_stack.urls["loki"] + "/ready", timeout=10)
    assert response.status_code == 200, response.text


def test_demo_bot_error_lines_are_queryable(loki, started):
    """The demo bot's error lines are found by {service="bot", level="error"}, as a bot's."""
    streams = wait_for(
        lambda: loki.streams('{service="bot", level="error"}', started),
        timeout=300, what="an error line from the demo bot",
    )  # fmt: skip
    stream = streams[0]["stream"]
    assert stream["job"] == "bot" and stream["env"]
    record = json.loads(streams[0]["values"][0][1])
    assert record["level"] == "error" and record["service"] == "bot"


def test_structured_metadata_finds_a_whole_command(loki, started):
    """Lines carry correlation_id and command as metadata; one id finds that command's lines."""
    query = '{job="bot", service="bot"} | correlation_id != ""'
    streams = wait_for(lambda: loki.streams(query, started, limit=50), 180, "lines with an id")
    labels = streams[0]["stream"]
    assert {"correlation_id", "command"} <= set(labels)
    cid = labels["correlation_id"]
    found = loki.lines(f'{{job="bot"}} | correlation_id="{cid}"', started)
    assert found
    assert all(json.loads(line)["correlation_id"] == cid for _, line in found)


def test_label_set_stays_small(loki, started):
    """After a demo run, Loki's label names are the documented few, with few values each."""
    wait_for(lambda: loki.streams('{job="bot"}', started, limit=1), 180, "bot lines")
    names = set(loki.get("/loki/api/v1/labels", start=int(started * 1e9)))
    assert names <= STREAM_LABELS, sorted(names - STREAM_LABELS)
    values = {
        name: loki.get(f"/loki/api/v1/label/{name}/values", start=int(started * 1e9))
        for name in names
    }
    assert set(values.get("level", [])) <= LEVELS
    series = loki.get("/loki/api/v1/series", **{"match[]": '{job=~".+"}'},
                      start=int(started * 1e9))  # fmt: skip
    # Stack services x levels, plus the bot: a few dozen at most, not one per id.
    assert len(series) <= 80, len(series)
    print(f"label cardinality: {len(series)} streams; " +
          ", ".join(f"{n}={len(v)}" for n, v in sorted(values.items())))  # fmt: skip


def test_promtail_restart_repeats_no_line(compose_stack, loki, started):
    """Restarting promtail resumes from its positions file: a closed time window keeps its count."""
    query = '{job="bot", service="bot"}'
    wait_for(lambda: loki.streams(query, started, limit=1), 180, "bot lines")
    window_end = time.time() - 15  # lines up to here are delivered (batch wait, multiline wait)
    before = len(loki.lines(query, started, window_end))
    restarted = compose_stack.compose("restart", "promtail")
    assert restarted.returncode == 0, restarted.stderr
    resumed_at = time.time()
    wait_for(lambda: loki.streams(query, resumed_at, limit=1), 180, "lines after the restart")
    time.sleep(20)  # whatever a re-read would resend has arrived by now
    after = loki.lines(query, started, window_end)
    assert len(after) == before
    # Nor is any line shipped twice otherwise (one tail per container, not per exposed port).
    assert len(set(after)) == len(after)


def test_own_bot_container_is_collected_with_its_traceback_whole(docker_client, loki):
    """A container labelled botwatch.logs=true is read as a bot; its raw traceback is one entry."""
    service = f"stacktest-{uuid.uuid4().hex[:8]}"
    code = (
        "import time, traceback\n"
        "try:\n    {}['missing']\nexcept KeyError:\n    traceback.print_exc()\n"
        "time.sleep(120)\n"
    )
    container = docker_client.containers.run(
        BOT_IMAGE, entrypoint=["python", "-c", code], detach=True, remove=True,
        labels={"botwatch.logs": "true", "botwatch.service": service},
    )  # fmt: skip
    try:
        start = time.time() - 60
        lines = wait_for(
            lambda: loki.lines(f'{{service="{service}"}} |= "Traceback"', start),
            timeout=120, what="the traceback in Loki",
        )  # fmt: skip
        streams = loki.streams(f'{{service="{service}"}}', start)
        assert {s["stream"]["job"] for s in streams} == {"bot"}
        (entry,) = lines
        assert "KeyError: 'missing'" in entry[1] and 'File "<string>"' in entry[1]
    finally:
        container.kill()


def test_foreign_containers_are_not_collected(docker_client, loki):
    """Promtail discovers only this project's and botwatch.logs=true containers: the lines of an
    unlabelled container and of another compose project's never reach Loki."""
    tag = uuid.uuid4().hex[:8]
    code = "import sys, time\nwhile True:\n    print(sys.argv[1], flush=True)\n    time.sleep(1)\n"
    runs = {
        f"foreign-{tag}": {},
        f"otherproject-{tag}": {"com.docker.compose.project": f"other-{tag}"},
        f"marked-{tag}": {"botwatch.logs": "true", "botwatch.service": f"stacktest-{tag}"},
    }
    containers = [
        docker_client.containers.run(
            BOT_IMAGE, entrypoint=["python", "-c", code, marker], detach=True, remove=True,
            labels=labels,
        )
        for marker, labels in runs.items()
    ]  # fmt: skip
    try:
        start = time.time() - 60
        # The marked container is the control: once its lines arrived, discovery has run
        # over all three containers (they started together) and shipped what it selected.
        wait_for(lambda: loki.lines(f'{{job="bot"}} |= "marked-{tag}"', start), timeout=120,
                 what="the marked container's lines in Loki")  # fmt: skip
        time.sleep(15)  # a batch of the others, had they been read, would have arrived too
        for selector in ('{job=~".+"}', '{level=~".+"}'):
            for marker in (f"foreign-{tag}", f"otherproject-{tag}"):
                assert loki.lines(f'{selector} |= "{marker}"', start) == [], marker
    finally:
        for container in containers:
            container.kill()


def test_log_alert_reaches_alertmanager(compose_stack, loki):
    """A critical bot line makes the Loki ruler fire BotLogCritical into Alertmanager."""
    service = f"stacktest-{uuid.uuid4().hex[:8]}"
    line = json.dumps({"level": "critical", "service": service, "message": "stack test"})
    loki.push({"job": "bot", "service": service, "level": "critical", "env": "test"}, line)

    def alert() -> dict[str, Any] | None:
        alerts = requests.get(
            compose_stack.urls["alertmanager"] + "/api/v2/alerts",
            params={"filter": ["alertname=BotLogCritical", f"service={service}"]}, timeout=10,
        ).json()  # fmt: skip
        return alerts[0] if alerts else None

    fired = wait_for(alert, timeout=240, what="BotLogCritical in Alertmanager")
    assert fired["labels"]["severity"] == "critical"
    assert fired["annotations"]["runbook_url"] == "docs/runbooks/BotLogCritical.md"


def test_loki_error_drill_gets_server_errors_counted(compose_stack):
    """The LokiRequestErrors drill's rule-group write is refused by the real Loki with a 500 (its
    rule store is the read-only local one), and Loki counts it as the 5xx the alert reads."""
    from drill.compose import write_rule_group

    url = compose_stack.urls["loki"]

    def five_hundreds() -> float:
        text = requests.get(url + "/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("loki_request_duration_seconds_count{")
            and 'status_code="500"' in line and "rules" in line
        )  # fmt: skip

    before = five_hundreds()
    assert write_rule_group(url) == 500
    assert five_hundreds() == before + 1
