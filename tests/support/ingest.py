"""The agent path on 127.0.0.1: demo bot → agent Prometheus → Caddy gateway → central Prometheus.

Each process runs from the project's own configuration: the agent from agent/prometheus.yml as
`make up-agent` renders it (scripts/stackctl/agent.py), the gateway from caddy/Caddyfile with the
settings compose.yaml gives it and a real bcrypt hash, the central Prometheus from prometheus.yml
and its rules with the remote-write receiver on. Only addresses differ (free local ports), and —
for `fast=True` — the scrape and evaluation intervals (1s) and BotDown's `for`, so tests finish
in seconds. With `pair=True` the central side is the `ha` profile's pair: two Prometheus replicas
(`replica` a and b), the gateway's second write path to the second, and the agent told to write
to both (AGENT_CENTRAL_HA). Used by tests/e2e/test_agent_ingest.py, tests/e2e/test_agent_ha_pair.py
and tests/bench/test_agent_ingest.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml
from stackctl.agent import render_agent

from tests.support.native_stack import REPO, DemoBot, Process, ProcessGroup, _rule_file
from tests.support.net import free_port, wait_http

HOST = "vps-test"
# The remote demo bot's `up`, as the agent sends it.
BOT_UP = f'up{{job="bot", host="{HOST}"}}'
USER = "agent"
PASSWORD = "correct-horse-battery-staple"  # test only; the gateway gets its bcrypt hash


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class CentralPrometheus(Process):
    """The central Prometheus: project config and rules, only its own job, receiver on; a
    `replica` (a, b) as compose.yaml's PROMETHEUS_REPLICA for a member of the `ha` pair."""

    def __init__(self, tool: Callable[[str], str], workdir: Path, *, fast: bool, replica: str = ""):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        name = f"central-{replica}" if replica else "central"
        folder = workdir / name
        rules = folder / "rules"
        rules.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
        (own,) = [job for job in config["scrape_configs"] if job["job_name"] == "prometheus"]
        own["static_configs"] = [{"targets": [f"127.0.0.1:{self.port}"]}]
        config["scrape_configs"] = [own]
        config.pop("alerting")  # rules are evaluated and read back from ALERTS, not delivered
        for source in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
            (rules / source.name).write_text(_rule_file(source, fast=fast))
        config["rule_files"] = [str(rules / "*.yml")]
        if fast:
            config["global"].update(scrape_interval="1s", evaluation_interval="1s")
            config["global"]["scrape_timeout"] = "1s"
        path = folder / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        args = [
            tool("prometheus"),
            f"--config.file={path}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # As compose.yaml runs it: agents' samples arrive through the gateway.
            "--web.enable-remote-write-receiver",
        ]
        env = {"BOTWATCH_ENV": "e2e", "PROMETHEUS_REPLICA": replica}
        super().__init__(name, args, workdir / f"{name}.log", env)

    def start(self) -> None:
        super().start()
        wait_http(f"{self.url}/-/ready", 60, process=self.process)

    def query(self, expr: str, time: float | None = None) -> list[dict]:
        params = {"query": expr, **({"time": str(time)} if time is not None else {})}
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)["data"]["result"]

    def newest_bot_sample(self) -> float:
        """When the newest `up` of the remote bot was scraped (0 before the first arrives)."""
        latest = self.query(f"timestamp({BOT_UP})")
        return float(latest[0]["value"][1]) if latest else 0.0

    def firing(self, alert: str) -> list[dict]:
        """The firing `alert` of the remote host, from this Prometheus' ALERTS."""
        return self.query(f'ALERTS{{alertname="{alert}", alertstate="firing", host="{HOST}"}}')


class Gateway(Process):
    """Caddy with caddy/Caddyfile, forwarding to the central Prometheus (and a Loki address);
    with `replica_2`, its second write path to that second replica (as `make up` sets it for
    `ha`), else that path is the 404 of a stack without the pair."""

    def __init__(
        self,
        tool: Callable[[str], str],
        workdir: Path,
        upstream: str,
        loki: str,
        replica_2: str = "",
    ):
        self.port, health = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.health = f"http://127.0.0.1:{health}/health"
        folder = workdir / "gateway"
        folder.mkdir(parents=True, exist_ok=True)
        hashed = subprocess.run(
            [tool("caddy"), "hash-password"], input=PASSWORD + "\n", capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
        users = folder / "users"
        users.write_text(f"{USER} {hashed}\n")
        env = {
            "INGEST_SITE": f"http://:{self.port}",
            "INGEST_BIND": "127.0.0.1",
            "INGEST_USERS_FILE": str(users),
            "INGEST_PROMETHEUS": upstream,
            "INGEST_PROMETHEUS_2": replica_2,
            "INGEST_LOKI": loki,
            "INGEST_HEALTH": f"127.0.0.1:{health}",
            # Caddy's own state (certificates; none here) under the test folder, not in $HOME.
            "XDG_DATA_HOME": str(folder / "data"),
            "XDG_CONFIG_HOME": str(folder / "config"),
        }
        args = [tool("caddy"), "run", "--adapter", "caddyfile",
                "--config", str(REPO / "caddy" / "Caddyfile")]  # fmt: skip
        super().__init__("gateway", args, workdir / "gateway.log", env)

    def start(self) -> None:
        super().start()
        wait_http(self.health, 30, process=self.process)

    def post(self, path: str, body: bytes, auth: str | None) -> int:
        """POST through the gateway; returns the HTTP status."""
        return self.reply(path, body, auth)[0]

    def reply(self, path: str, body: bytes, auth: str | None) -> tuple[int, str]:
        """POST through the gateway; returns the HTTP status and the response body."""
        headers = {
            "Content-Type": "application/x-protobuf",
            **({"Authorization": auth} if auth else {}),
        }
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            # A refused password costs a full bcrypt comparison (seconds on a busy machine).
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class Agent(Process):
    """Prometheus --agent with agent/prometheus.yml rendered as `make up-agent` does."""

    def __init__(
        self,
        tool: Callable[[str], str],
        workdir: Path,
        ingest_url: str,
        bots: str,
        *,
        host: str = HOST,
        password: str = PASSWORD,
        central_ha: bool = False,
        fast: bool,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder = workdir / f"agent-{host}"
        folder.mkdir(parents=True, exist_ok=True)
        secret = folder / "password"
        secret.write_text(password)
        settings = {
            "AGENT_HOST": host,
            "AGENT_INGEST_URL": ingest_url,
            "AGENT_INGEST_USER": USER,
            "AGENT_BOTS": bots,
            "BOTWATCH_ENV": "e2e",
            "AGENT_CENTRAL_HA": str(central_ha).lower(),
        }
        config = render_agent(
            settings, folder, self=f"127.0.0.1:{self.port}", password_file=str(secret),
            targets_dir=str(folder / "targets"),
        )  # fmt: skip
        if fast:
            data = yaml.safe_load(config.read_text())
            data["global"].update(scrape_interval="1s", scrape_timeout="1s")
            for job in data["scrape_configs"]:
                job["scrape_interval"] = job["scrape_timeout"] = "1s"
            config.write_text(yaml.safe_dump(data, sort_keys=False))
        self.config = config
        args = [
            tool("prometheus"),
            "--agent",
            f"--config.file={config}",
            f"--storage.agent.path={folder / 'wal'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        super().__init__(f"agent-{host}", args, workdir / f"agent-{host}.log")

    def start(self) -> None:
        super().start()
        wait_http(f"{self.url}/-/ready", 60, process=self.process)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples on the agent's own /metrics (those with `labels`)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name)
            and line[len(name)] in " {"
            and all(label in line for label in wanted)
        )


class SyntheticBots(Process):
    """Bots with many series (tests/support/synthetic_exporter.py), one port each."""

    def __init__(self, workdir: Path, count: int, series: int):
        self.ports = [free_port() for _ in range(count)]
        args = [sys.executable, "-m", "tests.support.synthetic_exporter",
                f"--series={series}", *map(str, self.ports)]  # fmt: skip
        super().__init__("synthetic-bots", args, workdir / "synthetic-bots.log")

    @property
    def agent_bots(self) -> str:
        """The AGENT_BOTS setting naming every one of them."""
        return ",".join(f"bot{i}=127.0.0.1:{port}" for i, port in enumerate(self.ports))

    def start(self) -> None:
        super().start()
        for port in self.ports:
            wait_http(f"http://127.0.0.1:{port}/metrics", 30, process=self.process)


class IngestPath(ProcessGroup):
    """Bots, central Prometheus (the `ha` pair with `pair`), gateway and one agent, started in
    dependency order.

    Without `bots`, the demo bot; with them (a SyntheticBots), those."""

    def __init__(
        self,
        tool: Callable[[str], str],
        workdir: Path,
        *,
        fast: bool = True,
        bots: SyntheticBots | None = None,
        pair: bool = False,
    ):
        self.tool, self.workdir, self.fast, self.pair = tool, workdir, fast, pair
        self.bot = bots or DemoBot(workdir)
        self.agent_bots = bots.agent_bots if bots else f"bot={self.bot.target}"
        self.central = CentralPrometheus(tool, workdir, fast=fast, replica="a" if pair else "")
        self.central_2 = CentralPrometheus(tool, workdir, fast=fast, replica="b") if pair else None
        replica_2 = f"127.0.0.1:{self.central_2.port}" if self.central_2 else ""
        # Loki does not run natively: the push path is forwarded to a closed port here and tested
        # for real under Docker (tests/stack).
        loki = f"127.0.0.1:{free_port()}"
        self.gateway = Gateway(
            tool, workdir, f"127.0.0.1:{self.central.port}", loki, replica_2=replica_2
        )
        self.agent = self.new_agent()
        centrals = [self.central, *([self.central_2] if self.central_2 else [])]
        self.processes: list[Process] = [self.bot, *centrals, self.gateway, self.agent]

    def new_agent(self, *, direct: bool = False, **kwargs) -> Agent:
        """Another agent of the same bots: through the gateway, or `direct` to the receiver."""
        url = self.central.url if direct else self.gateway.url
        kwargs.setdefault("central_ha", self.pair)
        return Agent(self.tool, self.workdir, url, self.agent_bots, fast=self.fast, **kwargs)
