"""Benchmark: the agent path (issue 10) with the shipped timings, on real binaries.

10 synthetic bots × 5,000 series, scraped every 10s by Prometheus in agent mode
(agent/prometheus.yml as `make up-agent` renders it), remote-written through the Caddy gateway
(caddy/Caddyfile, bcrypt basic auth) to the central Prometheus (project config and rules, receiver
on). A second agent of the same bots writes straight to the receiver: the baseline of the
gateway's cost, in the same run.

- agent resident memory and CPU over a steady minute: targets ≤ 300 MB, ≤ 10 % of a core
- the central Prometheus stopped for 2 minutes, then started: seconds until both agents have sent
  everything (the WAL's backlog): target ≤ 60 s, and below AgentDown's `for`
- samples/s each agent pushed while catching up, direct / through the gateway: target ≤ 1.2×

    .venv/bin/python -m pytest -s tests/bench/test_agent_ingest.py      (make bench runs it)
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import time
from pathlib import Path

import pytest
import yaml

from tests.support.ingest import HOST, IngestPath, SyntheticBots
from tests.support.polling import poll

BOTS, SERIES = 10, 5000
OUTAGE_SECONDS = int(os.environ.get("BOTWATCH_BENCH_OUTAGE", "120"))
TARGET_RSS_BYTES = 300 * 2**20
TARGET_CPU_SHARE = 0.10
TARGET_REPLAY_SECONDS = 60
TARGET_GATEWAY_RATIO = 1.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# This run's figures; copy to docs/results/agent-ingest.json to publish them in the README
# (scripts/readme_figures.py renders its "agents" block from that file).
RESULTS = Path(__file__).resolve().parents[2] / ".bench" / "agent-ingest.json"


def _publish(**figures: float) -> None:
    """Merge figures into this run's results file, with when and where they were measured."""
    RESULTS.parent.mkdir(exist_ok=True)
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update(figures)
    current["measured_at"] = time.strftime("%Y-%m-%d", time.gmtime())
    current["machine"] = f"{os.cpu_count()} cores, {platform.system()} {platform.release()}"
    RESULTS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _for_seconds(repo, alert: str) -> float:
    rules = yaml.safe_load((repo / "prometheus" / "rules" / "agent.rules.yml").read_text())
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == alert]
    value = rule["for"]
    return float(value[:-1]) * {"s": 1, "m": 60, "h": 3600}[value[-1]]


@pytest.fixture(scope="module")
def path(tool, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("agent-bench")
    bots = SyntheticBots(workdir, BOTS, SERIES)
    ingest = IngestPath(tool, workdir, fast=False, bots=bots)
    # The baseline: the same bots, written straight to the receiver; started when measured.
    ingest.direct = ingest.new_agent(direct=True, host="direct")
    try:
        ingest.start()
        ingest.processes.append(ingest.direct)
        yield ingest
    finally:
        ingest.close()


def test_agent_footprint(path, capsys):
    """The agent of 10 bots × 5k series stays under 300 MB resident and 10 % of a core."""
    expected = BOTS * SERIES
    scraped = poll(
        lambda: path.agent.metric("prometheus_agent_active_series") >= expected, 120, every=2
    )
    assert scraped, path.agent.tail()
    time.sleep(30)  # past the first WAL segment and the first remote-write batches
    pid = path.agent.process.pid
    cpu0, wall0, peak = _cpu_seconds(pid), time.monotonic(), 0
    while time.monotonic() - wall0 < 60:
        peak = max(peak, _rss(pid))
        time.sleep(2)
    share = (_cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
    _publish(bots=BOTS, series_per_bot=SERIES, agent_rss_bytes=peak, agent_cpu_share=share)
    with capsys.disabled():
        print(f"\nagent, {BOTS} bots × {SERIES} series at 10s: RSS peak {peak / 2**20:.0f} MB "
              f"(≤ 300), CPU {share:.1%} of a core (≤ 10 %)")  # fmt: skip
    assert peak <= TARGET_RSS_BYTES
    assert share <= TARGET_CPU_SHARE


def _outage(path, agent) -> tuple[float, float]:
    """Stop the central Prometheus for OUTAGE_SECONDS; returns (seconds from its return until the
    agent has sent every sample scraped before it, samples/s the agent sent meanwhile)."""
    sent, newest = (
        "prometheus_remote_storage_samples_total",
        ("prometheus_remote_storage_queue_highest_sent_timestamp_seconds"),
    )
    path.central.stop()
    time.sleep(OUTAGE_SECONDS)
    before = agent.metric(sent)
    path.central.start()
    restarted, started = time.time(), time.monotonic()
    caught_up = poll(lambda: agent.metric(newest) >= restarted, 300, every=0.5)
    assert caught_up, f"not caught up within 300s\n{path.logs()}"
    seconds = time.monotonic() - started
    return seconds, (agent.metric(sent) - before) / seconds


def test_replay_after_a_central_outage(path, repo, capsys):
    """After 2 minutes without the central Prometheus, the agent has sent its backlog within 60 s
    (less than AgentDown's `for`), and no scrape of the outage is missing centrally. The same
    outage again with the agent that writes straight to Prometheus: samples/s through the gateway
    are within 1.2× of direct. One agent runs at a time, so neither slows the other."""
    path.direct.stop()
    replay, through_gateway = _outage(path, path.agent)
    window = int(replay) + OUTAGE_SECONDS + 60
    (series,) = path.central.query(f'up{{job="bot", host="{HOST}", service="bot0"}}[{window}s]')
    stamps = [float(t) for t, _ in series["values"]]
    largest_gap = max(b - a for a, b in itertools.pairwise(stamps))
    path.agent.stop()
    path.direct.start()
    assert poll(lambda: path.direct.metric("prometheus_agent_active_series") >= BOTS * SERIES, 120)
    time.sleep(20)  # sending live, like the other agent was before its outage
    replay_direct, direct = _outage(path, path.direct)
    ratio = direct / through_gateway
    agent_down_for = _for_seconds(repo, "AgentDown")
    _publish(
        outage_seconds=OUTAGE_SECONDS, replay_seconds=replay, replay_seconds_direct=replay_direct,
        agent_down_for_seconds=agent_down_for, samples_per_second_gateway=through_gateway,
        samples_per_second_direct=direct, gateway_overhead_ratio=ratio,
        largest_gap_seconds=largest_gap,
    )  # fmt: skip
    with capsys.disabled():
        print(
            f"\nreplay after a {OUTAGE_SECONDS}s central outage: {replay:.1f} s through the "
            f"gateway (≤ {TARGET_REPLAY_SECONDS}, AgentDown for {agent_down_for:.0f} s), "
            f"{replay_direct:.1f} s direct; largest gap after replay {largest_gap:.0f} s"
        )
        print(f"catch-up samples/s: {through_gateway:,.0f} through the gateway, {direct:,.0f} "
              f"direct: {ratio:.2f}× (≤ {TARGET_GATEWAY_RATIO})")  # fmt: skip
    assert largest_gap <= 20, "a scrape of the outage is missing after the replay"
    assert replay <= TARGET_REPLAY_SECONDS < agent_down_for
    assert ratio <= TARGET_GATEWAY_RATIO
