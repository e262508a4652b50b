"""A bot on another host: its agent sends through the project's gateway to the central Prometheus.

Real binaries on 127.0.0.1 (tests/support/ingest.py): the demo bot, Prometheus in agent mode with
agent/prometheus.yml, Caddy with caddy/Caddyfile and a bcrypt hash, the central Prometheus with the
project's config, rules and remote-write receiver. Intervals are 1s (fast mode).
"""

from __future__ import annotations

import itertools
import time

import pytest

from tests.support.ingest import BOT_UP, HOST, PASSWORD, USER, IngestPath, basic_auth
from tests.support.native_stack import running
from tests.support.polling import poll

# Central down this long: short for `make test`; the 2-minute outage is the bench's
# (tests/bench/test_agent_ingest.py).
OUTAGE_SECONDS = 25
# The longest spacing between two samples of a 1s scrape that still means "nothing lost".
MAX_SAMPLE_GAP = 3.0


@pytest.fixture(scope="module")
def path(tool, tmp_path_factory):
    with running(IngestPath(tool, tmp_path_factory.mktemp("ingest")), "ingest path") as ingest:
        yield ingest


def _bot_up(path) -> list[dict]:
    return path.central.query(f"{BOT_UP} == 1")


def test_bot_series_arrive_centrally_with_host_service_and_env(path):
    """The bot's series, scraped by the agent, are queryable centrally with host, service, env."""
    assert poll(lambda: _bot_up(path), 60), path.logs()
    (up,) = _bot_up(path)
    assert up["metric"] == {
        "__name__": "up", "job": "bot", "instance": path.bot.target, "service": "bot",
        "host": HOST, "env": "e2e",
    }  # fmt: skip
    commands = poll(lambda: path.central.query(f'bot_commands_total{{host="{HOST}"}}'), 30)
    assert commands and all(s["metric"]["service"] == "bot" for s in commands)
    (agent,) = poll(lambda: path.central.query(f'up{{job="agent", host="{HOST}"}}'), 30)
    assert agent["value"][1] == "1"


class TestGateway:
    def test_wrong_or_missing_password_is_401(self, path):
        """Without the agents' password the gateway answers 401 and forwards nothing."""
        for auth in (None, basic_auth(USER, "wrong-password"), basic_auth("intruder", PASSWORD)):
            assert path.gateway.post("/api/v1/write", b"not a write request", auth) == 401

    def test_right_password_reaches_the_receiver(self, path):
        """With the password, a request reaches Prometheus' receiver (400: not a valid body)."""
        assert path.gateway.post("/api/v1/write", b"garbage", basic_auth(USER, PASSWORD)) == 400

    def test_only_the_write_paths_are_forwarded(self, path):
        """Query and admin APIs are not reachable through the gateway, even with the password."""
        auth = basic_auth(USER, PASSWORD)
        routes = (
            "/api/v1/query", "/api/v1/admin/tsdb/delete_series", "/-/reload", "/",
            "/replica-2/api/v1/query", "/replica-2/",
        )  # fmt: skip
        for route in routes:
            assert path.gateway.post(route, b"", auth) == 404, route

    def test_the_second_write_path_without_the_pair_says_so(self, path):
        """Without the `ha` pair the second replica's path is a 404 naming the cause and the fix
        (an agent logs this text), and it still wants the password first."""
        route = "/replica-2/api/v1/write"
        assert path.gateway.post(route, b"garbage", None) == 401
        status, body = path.gateway.reply(route, b"garbage", basic_auth(USER, PASSWORD))
        assert status == 404
        assert "without the ha profile" in body and "AGENT_CENTRAL_HA=false" in body

    def test_an_agent_with_a_wrong_password_writes_nothing(self, path):
        """An agent with the wrong password has its writes refused; none of its series exist."""
        intruder = path.new_agent(host="intruder", password="not-the-password")
        path.processes.append(intruder)
        intruder.start()
        failed = poll(lambda: intruder.metric("prometheus_remote_storage_samples_failed_total"), 60)
        assert failed > 0, intruder.tail()
        assert "401" in intruder.log_path.read_text()
        assert path.central.query('{host="intruder"}') == []
        intruder.stop()


def test_an_agent_set_for_a_pair_the_stack_lacks_keeps_no_backlog_for_it(path):
    """An agent told the central stack runs the pair when it does not: its second queue's
    batches are refused (404) and dropped, never retried, so that queue keeps up with the WAL
    like the first (nothing is held back for it); the first still delivers everything."""
    agent = path.new_agent(host="paired-agent", central_ha=True)
    path.processes.append(agent)
    agent.start()
    second = {"remote_name": "central-replica-2"}
    failed = poll(
        lambda: agent.metric("prometheus_remote_storage_samples_failed_total", **second), 60
    )
    assert failed > 0, agent.tail()
    assert "AGENT_CENTRAL_HA=false" in agent.log_path.read_text()
    assert poll(lambda: path.central.query('up{job="bot", host="paired-agent"} == 1'), 60)
    time.sleep(5)  # a few more batches, each dropped at once
    assert agent.metric("prometheus_remote_storage_samples_retried_total", **second) == 0
    sent = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
    # Dropped batches advance the queue like sent ones: it is at most a few seconds behind.
    assert agent.metric(sent, **second) >= time.time() - 15, agent.tail()
    agent.stop()


def test_bot_down_fires_centrally_from_the_agents_data(path):
    """BotDown for a remote bot fires from the `up` its agent sends, labelled with the host."""
    assert poll(lambda: _bot_up(path), 60)
    path.bot.kill()
    try:
        firing = poll(lambda: path.central.firing("BotDown"), 60)
        assert firing, path.logs()
        assert firing[0]["metric"]["service"] == "bot"
    finally:
        path.bot.start()
    assert poll(lambda: _bot_up(path), 60)


def test_central_outage_leaves_no_gap_after_replay(path):
    """With the central Prometheus down for a while, the agent's WAL replays the whole gap."""
    assert poll(lambda: _bot_up(path), 60)
    stopped = time.time()
    path.central.stop()
    time.sleep(OUTAGE_SECONDS)
    path.central.start()
    restarted = time.time()

    assert poll(lambda: path.central.newest_bot_sample() >= restarted, 60), path.logs()
    window = int(time.time() - stopped) + 10
    (series,) = path.central.query(f"{BOT_UP}[{window}s]")
    stamps = [float(t) for t, _ in series["values"]]
    assert stamps[0] < stopped - 5 and stamps[-1] > restarted
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps) <= MAX_SAMPLE_GAP, f"largest gap {max(gaps):.1f}s around the outage"
