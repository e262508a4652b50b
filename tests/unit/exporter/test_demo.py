"""Tests of botwatch.demo: `python -m botwatch.demo` as other parts of the stack run it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

DEMO_ENV = {
    "BOTWATCH_HOST": "127.0.0.1",
    "LOG_LEVEL": "debug",
    "BOTWATCH_DEMO_RATE": "60",
    "BOTWATCH_DEMO_FORCE_BURST": "1",
    "BOTWATCH_DEMO_RECONNECT_EVERY": "2",
    "BOTWATCH_DEMO_RATE_LIMIT": "0.2",
    "BOTWATCH_DEMO_STALL_TASK": "sync_stats",
    "BOTWATCH_DEMO_SEED": "7",
}


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _wait_ready(base: str, process: subprocess.Popen, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the demo exited early with {process.returncode}")
        try:
            if _get(f"{base}/health/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("the demo never became ready")


@pytest.fixture(scope="module")
def demo(free_port, tmp_path_factory):
    """Run the demo for a few seconds of fast traffic, scrape it, then SIGTERM it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOTWATCH_", "SENTRY_"))}
    env.pop("DISCORD_TOKEN", None)
    env.update(DEMO_ENV, BOTWATCH_PORT=str(port))
    out = tmp_path_factory.mktemp("demo")
    # Files, not pipes: an unread pipe fills up and then blocks the demo's log writes.
    with (out / "stdout").open("w") as stdout, (out / "stderr").open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "botwatch.demo"], env=env, stdout=stdout, stderr=stderr
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process)
            metrics = _scrape_until_complete(base)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    return {
        "metrics": metrics,
        "stdout": (out / "stdout").read_text(),
        "stderr": (out / "stderr").read_text(),
        "code": process.returncode,
    }


def _complete(metrics: str) -> bool:
    """True once the traffic has shown everything the tests below look for."""
    kinds = [{"command": c} for c in ("ping", "weather", "quote", "Report")]
    statuses = [{"status": s} for s in ("success", "user_error", "error")]
    others = (
        "bot_gateway_resumes_total",
        "bot_discord_rate_limits_total",
        "bot_task_failures_total",
        "bot_gateway_latency_seconds",
    )
    commands = all(_sum(metrics, "bot_commands_total", **labels) for labels in kinds + statuses)
    return commands and all(_sum(metrics, name) for name in others)


def _scrape_until_complete(base: str, within: float = 30.0) -> str:
    """The exposition once it is complete (or at the deadline, for the tests to report)."""
    deadline = time.monotonic() + within
    while True:
        metrics = _get(f"{base}/metrics")[1]
        if _complete(metrics) or time.monotonic() > deadline:
            return metrics
        time.sleep(0.5)


def _sum(metrics: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


class TestTraffic:
    @pytest.mark.parametrize("status", ["success", "user_error", "error"])
    def test_commands_end_in_every_status(self, demo, status):
        """Within seconds the simulated traffic produces commands of each status."""
        assert _sum(demo["metrics"], "bot_commands_total", status=status) > 0

    def test_every_command_kind_is_exercised(self, demo):
        """Prefix, hybrid, slash and context-menu commands all show up."""
        for command in ("ping", "weather", "quote", "Report"):
            assert _sum(demo["metrics"], "bot_commands_total", command=command) > 0, command

    def test_the_gateway_reconnects(self, demo):
        """A disconnect and a resume are counted."""
        assert _sum(demo["metrics"], "bot_gateway_disconnects_total") >= 1
        assert _sum(demo["metrics"], "bot_gateway_resumes_total") >= 1

    def test_rest_calls_and_rate_limits_are_seen(self, demo):
        """Messages are sent through discord.py's HTTP client and some hit a 429."""
        route = "/channels/{channel_id}/messages"
        assert _sum(demo["metrics"], "bot_discord_requests_total", route=route, status="200") > 0
        assert _sum(demo["metrics"], "bot_discord_rate_limits_total", route=route) > 0

    def test_a_stalled_loop_fails(self, demo):
        """With BOTWATCH_DEMO_STALL_TASK=sync_stats that loop reports a failure."""
        assert _sum(demo["metrics"], "bot_task_failures_total", task="DemoCog.sync_stats") >= 1

    def test_gateway_latency_is_exported(self, demo):
        """The heartbeat latency of shard 0 is exported."""
        assert _sum(demo["metrics"], "bot_gateway_latency_seconds", shard="0") > 0

    def test_the_exposition_passes_promtool(self, demo, tool):
        """`promtool check metrics` has nothing to say about the demo's /metrics."""
        result = subprocess.run(
            [tool("promtool"), "check", "metrics"],
            input=demo["metrics"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")

    def test_every_documented_metric_is_exposed(self, demo, repo):
        """Each metric of docs/metrics.md appears in the demo's exposition."""
        documented = re.findall(r"^\| `(\w+)` \|", (repo / "docs" / "metrics.md").read_text(), re.M)
        missing = [name for name in documented if name not in demo["metrics"]]
        assert missing == []


class TestLogs:
    def test_stdout_is_json_lines_for_service_bot(self, demo):
        """Every stdout line is a JSON object with service "bot"."""
        lines = [json.loads(line) for line in demo["stdout"].splitlines()]
        assert lines and {line["service"] for line in lines} == {"bot"}

    def test_every_level_is_logged(self, demo):
        """debug, info, warning, error and critical lines all occur."""
        levels = {json.loads(line)["level"] for line in demo["stdout"].splitlines()}
        assert {"debug", "info", "warning", "error", "critical"} <= levels

    def test_command_lines_carry_correlation_ids(self, demo):
        """Lines logged during a command carry its correlation id and name."""
        lines = [json.loads(line) for line in demo["stdout"].splitlines()]
        done = [line for line in lines if line["message"].startswith("command ping completed")]
        assert done and all(line["command"] == "ping" and line["correlation_id"] for line in done)


class TestShutdown:
    def test_sigterm_exits_cleanly(self, demo):
        """SIGTERM ends the demo with status 0, no traceback, and "stopped" as the last line."""
        assert demo["code"] == 0
        assert "Traceback" not in demo["stderr"]
        assert json.loads(demo["stdout"].splitlines()[-1])["message"] == "stopped"
