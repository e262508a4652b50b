"""The drills `make test` cannot run natively (Grafana, Loki, Promtail or Alloy, and the Loki
ruler's log alerts), run for real on the compose stack with `make drill ALERT=<name>`.

Each must fire in Prometheus or the Loki ruler, reach Alertmanager, and resolve once the drill
stops (scripts/drill/catalog.py says what each one does). The other drills are proven natively
by tests/e2e/test_drills.py.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from drill.__main__ import expected_wait
from drill.catalog import DRILLS

pytestmark = pytest.mark.stack

STACK_ONLY = [d.alert for d in DRILLS if d.mode in ("stack", "loki") and not d.off_stack]
MAX_WAIT = 1800  # seconds per step; PromtailDroppingEntries waits out Promtail's retries


@pytest.mark.timeout(3 * MAX_WAIT + 300)
@pytest.mark.parametrize("alert", STACK_ONLY)
def test_drill_fires_and_resolves_on_the_compose_stack(compose_stack, alert):
    """`make drill ALERT=<alert>`: firing, in Alertmanager, then resolved, each timed."""
    wait = min(expected_wait(alert), MAX_WAIT)
    drill = subprocess.run(
        [sys.executable, "-m", "drill", alert, "--max-wait", str(wait)],
        cwd=compose_stack.root, env=compose_stack.environment,
        capture_output=True, text=True, check=False, timeout=3 * wait + 120,
    )  # fmt: skip
    report = drill.stdout + drill.stderr
    assert drill.returncode == 0, report
    for step in ("firing in Prometheus", "in Alertmanager", r"resolved \(Prometheus\)"):
        assert re.search(rf"{step}\s+\d+\.\ds", report), f"{step}: {report}"
