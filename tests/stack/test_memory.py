"""The stack's resident memory (docker stats) and data volume sizes (docker system df) after demo
traffic, written to docs/results/memory.json, from which the README's figures are generated
(scripts/readme_figures.py).

Waits until every container has served BOTWATCH_SOAK_SECONDS of demo traffic (default one hour,
as the README's figure states; set it lower for a quick run, and the figure says how long it was).
Prints one line per service and the total. Commit the results file and run
`python3 scripts/readme_figures.py` to update the README.

Needs Docker (`make test-stack`); skipped with the reason otherwise, by the compose_stack fixture.
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.stack_api import timestamp

pytestmark = pytest.mark.stack

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results" / "memory.json"
SOAK_SECONDS = int(os.environ.get("BOTWATCH_SOAK_SECONDS", "3600"))


def resident(stats: dict) -> int:
    """What the container really holds: usage minus reclaimable file cache (as docker stats)."""
    memory = stats["memory_stats"]
    detail = memory.get("stats", {})
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    return int(memory["usage"]) - int(cache)


@pytest.mark.timeout(SOAK_SECONDS + 900)
def test_resident_memory_after_demo_traffic(compose_stack, docker_client, capsys):
    """After the soak, each container's resident memory is read, printed and recorded."""
    containers = docker_client.containers.list(
        filters={"label": f"com.docker.compose.project={compose_stack.project}"}
    )
    youngest = max(timestamp(c.attrs["State"]["StartedAt"]) for c in containers)
    waited = (datetime.now(UTC) - youngest).total_seconds()
    time.sleep(max(0.0, SOAK_SECONDS - waited))
    usage = {
        c.labels["com.docker.compose.service"]: resident(c.stats(stream=False)) for c in containers
    }
    with capsys.disabled():
        print(f"\nResident memory after {SOAK_SECONDS / 60:.0f} min of demo traffic:")
        for service, used in sorted(usage.items()):
            print(f"  {service:14} {used / 2**20:8.1f} MiB")
        print(f"  {'total':14} {sum(usage.values()) / 2**20:8.1f} MiB")
    assert set(usage) >= {"prometheus", "alertmanager", "loki", "promtail", "grafana", "bot"}
    assert all(used > 0 for used in usage.values()), usage
    volumes = {
        v["Labels"]["com.docker.compose.volume"]: v["UsageData"]["Size"]
        for v in docker_client.df()["Volumes"] or []
        if (v.get("Labels") or {}).get("com.docker.compose.project") == compose_stack.project
    }
    assert volumes, "no volume of the project in docker system df"
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    engine = docker_client.version()["Version"]
    results.update(
        measured_at=datetime.now(UTC).date().isoformat(),
        machine=f"{os.cpu_count()} CPUs, {platform.machine()}, Docker {engine}",
        demo_traffic_seconds=SOAK_SECONDS,
        resident_bytes=dict(sorted(usage.items())),
        volume_bytes=dict(sorted(volumes.items())),
    )
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
