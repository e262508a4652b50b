"""Stack processes a drill breaks on purpose: a small Prometheus and an Alertmanager of their own,
scraped by the drill Prometheus (tests/support/drill_stack.py) like the stack's are.

Each change is what an operator could do to a running stack by mistake or a disk could do by
accident: a rule file that does not parse or fails at every evaluation, a configuration with no
Alertmanager, a damaged write-ahead log, a tiny retention size, an Alertmanager configuration that
does not parse; each undone in the same way.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import yaml
from drill.breakage import UNPARSABLE_ALERTMANAGER

from tests.support.chat_fakes import ChatFakes
from tests.support.native_stack import (
    Alertmanager,
    Process,
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


class AlertmanagerUnderDrill(Alertmanager):
    """The project's Alertmanager with its own chat fakes; its config file can be broken."""

    def __init__(self, tool, workdir: Path, name: str, fakes: ChatFakes):
        folder = workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        config = write_alertmanager_config(folder / "alertmanager", fakes, fast=True)
        super().__init__(tool, folder, config, name=name)
        self.fakes = fakes
        self.good_config = self.config.read_text()

    def break_config(self, broken: bool) -> None:
        self.config.write_text(UNPARSABLE_ALERTMANAGER if broken else self.good_config)
        self.process.send_signal(signal.SIGHUP)

    def start(self) -> None:
        if self.process is None or self.process.poll() is not None:
            super().start()
