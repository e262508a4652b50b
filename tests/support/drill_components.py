"""Stack processes a drill breaks on purpose: a small Prometheus and an Alertmanager of their own,
scraped by the drill Prometheus (tests/support/drill_stack.py) like the stack's are.

Each change is what an operator could do to a running stack by mistake or a disk could do by
accident: a rule file that does not parse or fails at every evaluation, a configuration with no
Alertmanager, a damaged write-ahead log, a tiny retention size, an Alertmanager configuration that
does not parse, one Alertmanager of a clustered pair stopping, a filesystem filling up; each undone
in the same way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from drill.breakage import UNPARSABLE_ALERTMANAGER

from tests.support.chat_fakes import ChatFakes
from tests.support.native_stack import (
    Alertmanager,
    Process,
    compose_command,
    free_port,
    wait_http,
    write_alertmanager_config,
)

# Always firing, so a drill Prometheus always has something to send to its Alertmanager.
HEARTBEAT = {
    "groups": [
        {
            "name": "drill-heartbeat",
            "rules": [
                {"alert": "DrillHeartbeat", "expr": "vector(1)", "labels": {"severity": "info"}}
            ],
        }
    ]
}


class PrometheusUnderDrill(Process):
    """A Prometheus that scrapes itself, fires a heartbeat alert and sends it to the Alertmanagers
    listed in a file (file_sd), so a reload can leave it without one."""

    def __init__(self, tool: Callable[[str], str], workdir: Path, name: str, alertmanager: str):
        self.binary = tool("prometheus")
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = workdir / name
        self.rules = self.folder / "rules"
        self.rules.mkdir(parents=True, exist_ok=True)
        (self.rules / "heartbeat.yml").write_text(yaml.safe_dump(HEARTBEAT))
        self.alertmanager = alertmanager
        self.am_file = self.folder / "alertmanagers.json"
        self.list_alertmanager(True)
        config = {
            "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
            "alerting": {
                "alertmanagers": [
                    {"file_sd_configs": [{"files": [str(self.am_file)], "refresh_interval": "2s"}]}
                ]
            },
            "rule_files": [str(self.rules / "*.yml")],
            "scrape_configs": [
                {"job_name": "self", "static_configs": [{"targets": [f"127.0.0.1:{self.port}"]}]}
            ],
        }
        self.config = self.folder / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config))
        self.flags: list[str] = []
        super().__init__(name, [], self.folder / "prometheus.log")

    def start(self) -> None:
        self.args = [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # Its heartbeat is sent every 2 s instead of every minute (a clock of the process under
            # drill, not of a rule): a failed send a minute, replayed 12x slower, would be one in
            # 12 minutes, which no 2m rate window sees; one every 2 s keeps the real rate.
            "--rules.alert.resend-delay=2s",
            *self.flags,
        ]
        super().start()
        wait_http(f"{self.url}/-/ready", 30, process=self.process)

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def list_alertmanager(self, listed: bool) -> None:
        self.am_file.write_text(json.dumps([{"targets": [self.alertmanager]}] if listed else []))

    def rule_file(self, name: str, content: str | None) -> None:
        """Add (or, with None, remove) a rule file; takes effect at the next reload."""
        path = self.rules / name
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(content)

    def damage_wal(self) -> None:
        """While stopped: bytes that are no valid record at the end of the last WAL segment."""
        segment = max((self.folder / "data" / "wal").glob("0*"))
        with segment.open("ab") as wal:
            wal.write(b"\x07" + b"\xff" * 64)


class PortsHeldWhileStopped:
    """A process the drills stop and start again holds its ports while it is down: the rest of
    the suite runs beside the drills, and a port another socket took meanwhile (a test's server,
    an outgoing connection) would keep it from coming back (seen: an Alertmanager that could not
    rebind failed the whole drill session)."""

    port: int

    def ports(self) -> list[tuple[int, int]]:
        """(socket type, port) pairs to hold: its TCP port."""
        return [(socket.SOCK_STREAM, self.port)]

    def stop(self) -> None:
        super().stop()
        self._hold()

    def kill(self) -> None:
        super().kill()
        self._hold()

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return  # running
        for held in getattr(self, "_held", []):
            held.close()
        self._held: list[socket.socket] = []
        super().start()

    def _hold(self) -> None:
        if getattr(self, "_held", []) or self.process is None:
            return  # held already, or never started
        self._held = []
        for kind, port in self.ports():
            held = socket.socket(socket.AF_INET, kind)
            try:
                held.bind(("127.0.0.1", port))
            except OSError:  # taken already: the restart will say so
                held.close()
                continue
            self._held.append(held)


class AlertmanagerUnderDrill(PortsHeldWhileStopped, Alertmanager):
    """The project's Alertmanager with its own chat fakes; its config file can be broken. With
    `cluster` (compose.yaml's flags, native_stack.cluster_flags), a member of a gossip pair."""

    def __init__(
        self, tool, workdir: Path, name: str, fakes: ChatFakes, cluster: list[str] | None = None
    ):
        folder = workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        config = write_alertmanager_config(folder / "alertmanager", fakes, fast=True)
        super().__init__(tool, folder, config, name=name, cluster=cluster)
        self.fakes = fakes
        self.good_config = self.config.read_text()

    def break_config(self, broken: bool) -> None:
        self.config.write_text(UNPARSABLE_ALERTMANAGER if broken else self.good_config)
        self.process.send_signal(signal.SIGHUP)

    def ports(self) -> list[tuple[int, int]]:
        gossip = [
            int(flag.rsplit(":", 1)[1])
            for flag in self.args
            if flag.startswith("--cluster.listen-address=127.0.0.1:")
        ]
        return super().ports() + [
            (kind, port) for port in gossip for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)
        ]


class NodeExporterUnderDrill(Process):
    """node-exporter with compose.yaml's filesystem flags, watching a 16 MiB ext4 filesystem of its
    own (a loop-mounted image in the test folder) that the drill fills, so no real disk fills.

    Mounting needs root (CAP_SYS_ADMIN) and a loop device, and node-exporter comes from Debian
    only: where one is missing `unavailable` says why, and the drill's proof is skipped with that
    reason (the other drills run on).
    """

    SIZE = 16 << 20

    def __init__(self, tool: Callable[[str], str], workdir: Path, name: str):
        self.name, self.port = name, free_port()
        self.folder = workdir / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.mountpoint = self.folder / "disk"
        self.filler = self.mountpoint / "drill-fill"
        self.binary: str | None = None
        try:
            self.binary = tool("node-exporter")
            self.unavailable = self._mount()
        except pytest.skip.Exception as missing:
            self.unavailable = str(missing)
        self.mounted = self.unavailable is None
        flags = [f for f in compose_command("node-exporter") if not f.startswith("--path.rootfs")]
        args = [
            self.binary or "node-exporter",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # Only the filesystem collector: the rule reads nothing else, and two cores are few.
            "--collector.disable-defaults",
            "--collector.filesystem",
            *flags,
        ]
        super().__init__(name, args, self.folder / "node-exporter.log")

    def _mount(self) -> str | None:
        if os.geteuid() != 0:
            return "mounting the drill's small filesystem needs root; this run is not root"
        image = self.folder / "disk.img"
        with image.open("wb") as file:
            file.truncate(self.SIZE)
        self.mountpoint.mkdir(exist_ok=True)
        for command in (
            ["mkfs.ext4", "-q", "-F", "-m", "0", str(image)],
            ["mount", "-o", "loop", str(image), str(self.mountpoint)],
        ):
            try:
                done = subprocess.run(command, capture_output=True, text=True, check=False)
            except OSError as exc:
                return f"cannot make the drill's small filesystem: {exc}"
            if done.returncode:
                return f"cannot make the drill's small filesystem: {' '.join(command[:2])}: " + (
                    done.stderr.strip() or f"exit {done.returncode}"
                )
        return None

    def start(self) -> None:
        super().start()
        wait_http(f"http://127.0.0.1:{self.port}/metrics", 30, process=self.process)

    def fill(self, full: bool) -> None:
        """Fill the filesystem to 97% (under the rule's 5%), or empty it again."""
        if self.unavailable:
            return
        if not full:
            self.filler.unlink(missing_ok=True)
            return
        stat = os.statvfs(self.mountpoint)
        keep = int(stat.f_blocks * stat.f_frsize * 0.03)
        size = stat.f_bavail * stat.f_frsize - keep
        with self.filler.open("wb") as file:
            os.posix_fallocate(file.fileno(), 0, size)

    def stop(self) -> None:
        super().stop()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True, check=False)
            self.mounted = False
