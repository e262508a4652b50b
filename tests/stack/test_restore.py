"""`make backup` then `make restore` into a stack whose volumes were deleted: the old metrics,
silences and logs are back.

Needs Docker (`make test-stack`); skipped with the reason otherwise, by the compose_stack fixture.
Runs on the session's stack and leaves it up and restored, as the other modules expect it.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.support.stack_api import Loki, wait_for

pytestmark = pytest.mark.stack


def silence_comments(alertmanager: str) -> set[str]:
    silences = requests.get(alertmanager + "/api/v2/silences", timeout=10).json()
    return {s["comment"] for s in silences if s["status"]["state"] == "active"}


def bot_up_at(prometheus: str, at: float) -> list:
    response = requests.get(
        prometheus + "/api/v1/query", params={"query": 'up{job="bot"}', "time": at}, timeout=10
    )
    return response.json()["data"]["result"]


def test_a_restored_stack_has_the_old_metrics_silences_and_logs(compose_stack):
    """Data written before the backup is found after `down --volumes`, restore and `up`."""
    urls, marker = compose_stack.urls, f"backup-drill-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "alertname", "value": "BackupDrill", "isRegex": False}],
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(days=1)).isoformat(),
        "createdBy": "tests/stack/test_backup.py", "comment": marker,
    }  # fmt: skip
    response = requests.post(urls["alertmanager"] + "/api/v2/silences", json=silence, timeout=10)
    assert response.status_code == 200, response.text
    loki, started = Loki(urls["loki"]), time.time() - 60
    loki.push({"job": "backup-test", "service": "backup-test"}, marker)
    query = f'{{job="backup-test"}} |= "{marker}"'
    wait_for(lambda: loki.lines(query, started), 120, "the marked line in Loki")
    then = time.time() - 30
    before = wait_for(lambda: bot_up_at(urls["prometheus"], then), 180, "scraped bot samples")

    made = compose_stack.stackctl("backup")
    assert made.returncode == 0, made.stdout + made.stderr
    folder = re.search(r"volume\(s\) in (\S+)", made.stdout).group(1)
    gone = compose_stack.compose("down", "--volumes")
    assert gone.returncode == 0, gone.stderr
    restored = compose_stack.stackctl("restore", folder)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    up = compose_stack.stackctl("up")
    assert up.returncode == 0, up.stdout + up.stderr

    assert marker in silence_comments(urls["alertmanager"])
    assert wait_for(lambda: loki.lines(query, started), 120, "the marked line after restore")
    after = wait_for(lambda: bot_up_at(urls["prometheus"], then), 60, "the old samples")
    assert [s["value"] for s in after] == [s["value"] for s in before]
