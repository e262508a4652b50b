"""Two real Alertmanagers in a gossip cluster (compose profile `ha`) delivering to the chat fakes.

Each runs the rendered project config (fast timings, both channels on the fakes) with the
--cluster.* flags compose.yaml gives `alertmanager` and `alertmanager-2`, their gossip addresses
moved to 127.0.0.1. Alerts are posted to both, as Prometheus and the Loki ruler do. Upstream
promises at-least-once delivery; with a settled cluster that must come out as exactly once.

The cluster is module-scoped and the failover test, which kills a member, runs last.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from tests.support.chat_fakes import ChatFakes
from tests.support.native_stack import Alertmanager, cluster_flags, write_alertmanager_config
from tests.support.net import free_port
from tests.support.polling import poll

MEMBERS = ("alertmanager", "alertmanager-2")
# The second member waits --cluster.peer-timeout (15s, Alertmanager's default, which compose.yaml
# keeps) before it checks whether the first has notified: a duplicate would come by then.
DUPLICATE_WINDOW = 25


class Cluster:
    def __init__(self, tool, workdir, fakes: ChatFakes):
        gossip = {name: f"127.0.0.1:{free_port()}" for name in MEMBERS}
        self.members = [
            Alertmanager(
                tool,
                workdir,
                write_alertmanager_config(workdir / name, fakes, fast=True),
                name=name,
                cluster=cluster_flags(name, gossip),
            )
            for name in MEMBERS
        ]
        self.fakes = fakes

    def alive(self) -> list[Alertmanager]:
        return [m for m in self.members if m.process and m.process.poll() is None]

    def post(self, name: str) -> dict:
        """A critical alert of a group of its own, sent to every live member (as Prometheus)."""
        alert = {
            "labels": {"alertname": name, "severity": "critical", "service": "e2e-ha"},
            "annotations": {"summary": f"{name} (e2e HA).", "description": "HA cluster test."},
        }
        for member in self.alive():
            member.post([alert])
        return alert

    def messages(self, name: str) -> dict[str, int]:
        """How many messages about the alert each chat received."""
        return {
            "discord": sum(name in m.title + m.text for m in self.fakes.discord.messages),
            "telegram": sum(name in m.title + m.text for m in self.fakes.telegram.messages),
        }

    def logs(self) -> str:
        return "\n".join(f"--- {m.name} ---\n{m.tail()}" for m in self.members)


def settled(member: Alertmanager) -> bool:
    """The member sees the whole cluster and has finished settling its gossip."""
    cluster = member.get("status")["cluster"]
    return cluster["status"] == "ready" and len(cluster.get("peers", [])) == len(MEMBERS)


@pytest.fixture(scope="module")
def cluster(tool, tmp_path_factory):
    with ChatFakes() as fakes:
        ha = Cluster(tool, tmp_path_factory.mktemp("ha"), fakes)
        try:
            for member in ha.members:
                member.start()
            ready = poll(lambda: all(settled(m) for m in ha.members), 90, every=1)
            assert ready, f"the cluster did not settle\n{ha.logs()}"
            yield ha
        finally:
            for member in ha.members:
                member.stop()


def test_a_settled_cluster_notifies_each_group_once(cluster):
    """An alert sent to both members reaches Discord once and Telegram once."""
    cluster.post("E2eHaOnce")
    first = poll(lambda: all(cluster.messages("E2eHaOnce").values()), 60)
    assert first, f"no notification\n{cluster.logs()}"
    time.sleep(DUPLICATE_WINDOW)
    assert cluster.messages("E2eHaOnce") == {"discord": 1, "telegram": 1}, cluster.logs()


def test_a_silence_made_on_one_member_is_honoured_by_both(cluster):
    """A silence created through the first member reaches the second by gossip; the alert is
    then suppressed on both and nobody is notified."""
    first, second = cluster.members
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "alertname", "value": "E2eHaSilenced", "isRegex": False}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "e2e",
        "comment": "HA cluster test",
    }
    request = urllib.request.Request(
        f"{first.url}/api/v2/silences",
        data=json.dumps(silence).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        silence_id = json.load(response)["silenceID"]
    gossiped = poll(lambda: [s for s in second.get("silences") if s["id"] == silence_id], 30)
    assert gossiped and gossiped[0]["status"]["state"] == "active"

    cluster.post("E2eHaSilenced")
    path = "alerts?silenced=true&filter=" + quote('alertname="E2eHaSilenced"')
    for member in (first, second):
        muted = poll(lambda m=member: m.get(path), 30)
        assert muted and muted[0]["status"]["silencedBy"] == [silence_id], member.name
    time.sleep(DUPLICATE_WINDOW)
    assert cluster.messages("E2eHaSilenced") == {"discord": 0, "telegram": 0}


def test_notifications_keep_arriving_when_a_member_dies(cluster):
    """With the first member killed, a new alert still reaches both chats, once."""
    cluster.members[0].kill()
    cluster.post("E2eHaFailover")
    delivered = poll(lambda: all(cluster.messages("E2eHaFailover").values()), 90)
    assert delivered, f"no notification after the failover\n{cluster.logs()}"
    time.sleep(DUPLICATE_WINDOW)
    assert cluster.messages("E2eHaFailover") == {"discord": 1, "telegram": 1}
