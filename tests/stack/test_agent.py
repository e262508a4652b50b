"""A bot host's agent (compose.agent.yaml) sending to the real stack's ingest gateway, under Docker.

What cannot run natively: Alloy shipping the demo bot's logs through the gateway to Loki (with
`host`), and nothing lost when Loki is away for a minute (Alloy keeps its positions and retries).
The central stack runs with the `ingest` and `ha` profiles and a real bcrypt hash; the agent runs
from its own copy of the checkout as a bot host would, with `make up-agent`'s code path, the demo
bot and AGENT_CENTRAL_HA=true, so both Prometheus replicas receive its samples.
The gateway joins the agent's network, as a private network between two hosts would carry it.
Skipped, with the reason, without a Docker engine.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.stack.conftest import Stack, copy_checkout, stack_from_checkout
from tests.support.stack_api import Loki, wait_for

pytestmark = pytest.mark.stack

HOST = "stack-agent"
PASSWORD = uuid.uuid4().hex
AGENT_NETWORK = "botwatch-bots"  # compose.agent.yaml's fixed network name
LOKI_OUTAGE_SECONDS = 60


@pytest.fixture(scope="module")
def central(docker_client, tool, tmp_path_factory, free_port) -> Iterator[Stack]:
    hashed = subprocess.run(
        [tool("caddy"), "hash-password"], input=PASSWORD + "\n", capture_output=True,
        text=True, check=True,
    ).stdout.strip()  # fmt: skip
    extra = f"INGEST_PASSWORD_HASH='{hashed}'\nINGEST_PORT={free_port()}\n"
    extra += f"INGEST_TLS_PORT={free_port()}\n"
    root = tmp_path_factory.mktemp("central") / "botwatch"
    with stack_from_checkout(root, free_port, extra, profiles="ingest,ha") as stack:
        yield stack


@pytest.fixture(scope="module")
def agent(central, tmp_path_factory) -> Iterator[subprocess.CompletedProcess[str]]:
    """`make up-agent` on a copy of the checkout, the demo bot beside it, sending to the gateway."""
    root = copy_checkout(tmp_path_factory.mktemp("bot-host") / "botwatch")
    gateway = f"{central.project}-ingest-1"
    env = (root / ".env.example").read_text() + (
        f"AGENT_HOST={HOST}\nAGENT_BOTS=bot=bot:8000\nAGENT_INGEST_URL=http://{gateway}:8080\n"
        f"AGENT_INGEST_PASSWORD={PASSWORD}\nCOMPOSE_PROFILES=demo\nAGENT_CENTRAL_HA=true\n"
    )
    (root / ".env").write_text(env)
    project = f"botwatch-agent-{uuid.uuid4().hex[:8]}"
    environment = {**central.environment, "COMPOSE_PROJECT_NAME": project,
                   "PYTHONPATH": str(root / "scripts")}  # fmt: skip
    up = subprocess.run([sys.executable, "-m", "stackctl", "up-agent"], cwd=root,
                        env=environment, capture_output=True, text=True, check=False)  # fmt: skip
    connect = subprocess.run(["docker", "network", "connect", AGENT_NETWORK, gateway],
                             capture_output=True, text=True, check=False)  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert connect.returncode == 0, connect.stderr
        yield up
    finally:
        subprocess.run(["docker", "network", "disconnect", AGENT_NETWORK, gateway], check=False)
        subprocess.run(["docker", "compose", "-p", project, "-f", "compose.agent.yaml", "--profile",
                        "demo", "down", "--volumes"], cwd=root, check=False)  # fmt: skip


def test_agent_metrics_and_logs_arrive_with_host(central, agent):
    """The demo bot's metrics and log lines reach the central stack labelled with the host."""
    loki = Loki(central.urls["loki"])
    since = time.time() - 60
    query = f'{{job="bot", host="{HOST}"}}'
    lines = wait_for(lambda: loki.lines(query, since), 180, f"log lines of {query}")
    assert lines
    params = {"query": f'up{{job="bot", host="{HOST}"}}'}
    response = requests.get(central.urls["prometheus"] + "/api/v1/query", params=params, timeout=10)
    assert response.json()["data"]["result"], "the agent's bot series are not in Prometheus"


def test_the_second_prometheus_replica_gets_the_agents_series_too(central, agent):
    """Through the gateway's second write path, prometheus-2 (no published port: asked from inside
    its container) holds the remote bot's series as the first replica does."""
    query = urllib.parse.urlencode({"query": f'up{{job="bot", host="{HOST}"}}'})
    url = f"http://127.0.0.1:9090/api/v1/query?{query}"

    def in_second_replica():
        run = central.compose("exec", "-T", "prometheus-2", "wget", "-qO-", url)
        return run.returncode == 0 and json.loads(run.stdout)["data"]["result"]

    assert wait_for(in_second_replica, 180, "the agent's bot series in prometheus-2")


def test_logs_of_a_loki_outage_arrive_afterwards(central, agent):
    """With Loki stopped for a minute, the bot's lines of that minute arrive once it is back."""
    loki = Loki(central.urls["loki"])
    query = f'{{job="bot", host="{HOST}"}}'
    wait_for(lambda: loki.lines(query, time.time() - 60), 180, "lines before the outage")
    assert central.compose("stop", "loki").returncode == 0
    stopped = time.time()
    time.sleep(LOKI_OUTAGE_SECONDS)
    assert central.compose("start", "loki").returncode == 0
    resumed = stopped + LOKI_OUTAGE_SECONDS

    def outage_covered():
        stamps = sorted(int(ts) / 1e9 for ts, _ in loki.lines(query, stopped - 5, resumed + 5))
        inside = [t for t in stamps if stopped + 5 <= t <= resumed - 5]
        return inside if inside and max(b - a for a, b in itertools.pairwise(inside)) < 15 else None

    assert wait_for(outage_covered, 300, "the outage minute's lines after Loki returned")
