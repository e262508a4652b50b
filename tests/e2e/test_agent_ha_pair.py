"""A bot on another host under the `ha` pair: its agent writes to both central replicas.

Real binaries on 127.0.0.1 (tests/support/ingest.py, `pair=True`): the demo bot, Prometheus in
agent mode with agent/prometheus.yml rendered for AGENT_CENTRAL_HA=true, Caddy with caddy/Caddyfile
and its second write path set as `make up` sets it for `ha`, and two central Prometheus replicas
(`replica` a and b) with the project's config, rules and remote-write receiver. Intervals are 1s.
"""

from __future__ import annotations

import time

import pytest

from tests.support.ingest import BOT_UP, HOST, IngestPath
from tests.support.native_stack import running
from tests.support.polling import poll


@pytest.fixture(scope="module")
def path(tool, tmp_path_factory):
    ingest = IngestPath(tool, tmp_path_factory.mktemp("ingest-pair"), pair=True)
    with running(ingest, "ingest path with the pair"):
        yield ingest


def _samples(central, at: float) -> dict[tuple, list]:
    """Every raw sample of the remote host's bot series in the 10s before `at`, by series."""
    result = central.query(f'{{job="bot", host="{HOST}"}}[10s]', time=at)
    return {tuple(sorted(s["metric"].items())): s["values"] for s in result}


def test_both_replicas_hold_the_same_samples_of_the_remote_bot(path):
    """Every series of the remote bot, with every sample (timestamp and value), is in both
    replicas: the agent's two queues deliver the same data through the two gateway paths."""
    up = f"{BOT_UP} == 1"
    assert poll(lambda: path.central.query(up) and path.central_2.query(up), 60), path.logs()
    at = time.time() - 2

    def same() -> bool:
        first = _samples(path.central, at)
        return bool(first) and first == _samples(path.central_2, at)

    assert poll(same, 30), path.logs()
    names = {dict(series)["__name__"] for series in _samples(path.central_2, at)}
    assert {"up", "bot_commands_total"} <= names
    for queue in ("central", "central-replica-2"):
        assert path.agent.metric("prometheus_remote_storage_samples_total", remote_name=queue) > 0


def test_with_the_first_replica_stopped_the_second_still_receives_and_alerts(path):
    """With replica a stopped, new samples of the remote bot still reach replica b, and a bot
    that dies meanwhile fires BotDown there, labelled with its host: the page still comes."""
    path.central.stop()
    stopped = time.time()
    try:
        assert poll(lambda: path.central_2.newest_bot_sample() > stopped + 3, 30), path.logs()
        path.bot.kill()
        firing = poll(lambda: path.central_2.firing("BotDown"), 60)
        assert firing, path.logs()
        assert firing[0]["metric"]["service"] == "bot"
    finally:
        path.bot.start()
        path.central.start()
    # The first replica's queue waited meanwhile and catches up once it is back.
    returned = time.time()
    assert poll(lambda: path.central.newest_bot_sample() >= returned, 60), path.logs()
