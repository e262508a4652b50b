"""Two real Alertmanagers in a gossip cluster (compose profile `ha`) delivering to the chat fakes.

Each runs the rendered project config (fast timings, both channels on the fakes) with the
--cluster.* flags compose.yaml gives `alertmanager` and `alertmanager-2`, their gossip addresses
moved to 127.0.0.1. Alerts are posted to both, as Prometheus and the Loki ruler do. Upstream
promises at-least-once delivery; with a settled cluster that must come out as exactly once.

The cluster is module-scoped and the failover test, which kills a member, runs last. A second
pair gossips over mutual TLS with the sample config the README's two-host steps use.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.chat_fakes import ChatFakes
from tests.support.native_stack import (
    REPO,
    Alertmanager,
    cluster_flags,
    write_alertmanager_config,
)
from tests.support.net import free_port
from tests.support.polling import poll
from tests.support.stack_metrics import ALERTMANAGER_CLUSTER_METRICS

MEMBERS = ("alertmanager", "alertmanager-2")
# The second member waits --cluster.peer-timeout (15s, Alertmanager's default, which compose.yaml
# keeps) before it checks whether the first has notified: a duplicate would come by then.
DUPLICATE_WINDOW = 25


class Cluster:
    def __init__(self, tool, workdir, fakes: ChatFakes, extra_flags: tuple[str, ...] = ()):
        gossip = {name: f"127.0.0.1:{free_port()}" for name in MEMBERS}
        self.members = [
            Alertmanager(
                tool,
                workdir,
                write_alertmanager_config(workdir / name, fakes, fast=True),
                name=name,
                cluster=[*cluster_flags(name, gossip), *extra_flags],
            )
            for name in MEMBERS
        ]
        self.fakes = fakes

    def start(self) -> Cluster:
        for member in self.members:
            member.start()
        ready = poll(lambda: all(settled(m) for m in self.members), 90, every=1)
        assert ready, f"the cluster did not settle\n{self.logs()}"
        return self

    def stop(self) -> None:
        for member in self.members:
            member.stop()

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
            yield ha.start()
        finally:
            ha.stop()


def test_each_member_reports_the_cluster_size_the_alert_reads(cluster):
    """alertmanager_cluster_members (AlertmanagerClusterMemberLost) is 2 on both members."""
    for member in cluster.members:
        with urllib.request.urlopen(f"{member.url}/metrics", timeout=10) as response:
            exposition = response.read().decode()
        assert set(re.findall(r"^(\w+)[{ ]", exposition, re.M)) >= ALERTMANAGER_CLUSTER_METRICS
        assert re.search(r"^alertmanager_cluster_members 2$", exposition, re.M), member.name


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
    silence_id = create_silence(first, "E2eHaSilenced")
    gossiped = poll(lambda: [s for s in second.get("silences") if s["id"] == silence_id], 30)
    assert gossiped and gossiped[0]["status"]["state"] == "active"

    cluster.post("E2eHaSilenced")
    path = "alerts?silenced=true&filter=" + quote('alertname="E2eHaSilenced"')
    for member in (first, second):
        muted = poll(lambda m=member: m.get(path), 30)
        assert muted and muted[0]["status"]["silencedBy"] == [silence_id], member.name
    time.sleep(DUPLICATE_WINDOW)
    assert cluster.messages("E2eHaSilenced") == {"discord": 0, "telegram": 0}


def create_silence(member: Alertmanager, alertname: str) -> str:
    """A one-hour silence of `alertname` created through the member's API; returns its id."""
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "alertname", "value": alertname, "isRegex": False}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "e2e",
        "comment": "HA cluster test",
    }
    request = urllib.request.Request(
        f"{member.url}/api/v2/silences",
        data=json.dumps(silence).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["silenceID"]


def gossip_certificates(folder: Path) -> None:
    """A CA and one member certificate for 127.0.0.1, as README "Scaling" asks per host."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: it makes the test certificates")
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
         "-subj", "/CN=botwatch-gossip-ca"],
        ["req", *ec, "-keyout", "host.key", "-out", "host.csr", "-subj", "/CN=alertmanager"],
        ["x509", "-req", "-in", "host.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "host.crt", "-days", "1", "-extfile", "san.cnf"],
    ]  # fmt: skip
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for step in steps:
        subprocess.run([openssl, *step], cwd=folder, capture_output=True, check=True)


def test_gossip_over_the_documented_tls_config(tool, tmp_path):
    """With alertmanager/cluster/tls.yml.sample (mutual TLS, TCP only), the two members still
    form a settled cluster and a silence made on one reaches the other."""
    certificates = tmp_path / "cluster"
    gossip_certificates(certificates)
    sample = (REPO / "alertmanager" / "cluster" / "tls.yml.sample").read_text()
    tls = tmp_path / "tls.yml"
    tls.write_text(sample.replace("/etc/alertmanager/cluster/", f"{certificates}/"))
    with ChatFakes() as fakes:
        secured = Cluster(tool, tmp_path, fakes, (f"--cluster.tls-config={tls}",))
        try:
            first, second = secured.start().members
            silence_id = create_silence(first, "E2eHaTls")
            assert poll(lambda: [s for s in second.get("silences") if s["id"] == silence_id], 30)
        finally:
            secured.stop()


def test_notifications_keep_arriving_when_a_member_dies(cluster):
    """With the first member killed, a new alert still reaches both chats, once."""
    cluster.members[0].kill()
    cluster.post("E2eHaFailover")
    delivered = poll(lambda: all(cluster.messages("E2eHaFailover").values()), 90)
    assert delivered, f"no notification after the failover\n{cluster.logs()}"
    time.sleep(DUPLICATE_WINDOW)
    assert cluster.messages("E2eHaFailover") == {"discord": 1, "telegram": 1}
