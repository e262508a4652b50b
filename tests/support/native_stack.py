"""The real demo bot, prometheus and alertmanager as local processes on free 127.0.0.1 ports.

Each runs from the project's own configuration, rewritten only where a local run must differ:
addresses (compose service names → 127.0.0.1 ports), absolute rule and template paths, secret
files in a temporary folder, and — for `fast=True` only — shorter timings (scrape and evaluation
every second, short `for` on the alerts under test, short group waits, alerts re-sent every 2s),
so end-to-end tests finish in seconds. `fast=False` keeps every shipped timing (latency benchmark).

Used by tests/e2e/conftest.py (session fixtures) and tests/bench/test_alert_latency.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest
import yaml
from stackctl.alerting import render
from stackctl.profiles import prometheus_config
from stackctl.testalert import post_alerts

from tests.support.chat_fakes import ChatFakes
from tests.support.fake_secrets import CHANNEL_SETTINGS, TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID
from tests.support.net import free_port, wait_http

REPO = Path(__file__).resolve().parents[2]

# The alerts whose `for` the fast mode shortens: the ones end-to-end tests wait for.
FAST_ALERTS = {"BotDown", "AlertmanagerNotificationsFailing"}
FAST_FOR = "2s"
# Prometheus re-sends firing alerts every --rules.alert.resend-delay: 1m by default (compose.yaml
# keeps it), 2s in the fast mode. A sent alert's endsAt is 4 * max(resend delay, evaluation
# interval) ahead, which is what ends the Watchdog's heartbeat once Prometheus is gone.
DEFAULT_RESEND_DELAY = 60.0
FAST_RESEND_DELAY = 2.0
# Link bases used in rendered messages, so tests can assert full URLs.
GRAFANA_URL = "http://grafana.example.test:3000"
RUNBOOK_BASE_URL = "https://git.example.test/botwatch/blob/main"


class Process:
    """A child process with its output in a log file, stopped on demand or at close()."""

    def __init__(self, name: str, args: list[str], log: Path, env: Mapping[str, str] | None = None):
        self.name, self.args, self.log_path = name, args, log
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO
            )

    def kill(self) -> None:
        """SIGKILL: the process dies the way a crashed bot does, with no goodbye."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class DemoBot(Process):
    """`python -m botwatch.demo` serving its exporter on a free port."""

    def __init__(self, workdir: Path, extra_env: Mapping[str, str] | None = None):
        self.port = free_port()
        env = {
            "BOTWATCH_HOST": "127.0.0.1",
            "BOTWATCH_PORT": str(self.port),
            "BOTWATCH_SERVICE": "bot",
            # The demo's first incident (errors, slow commands, a reconnect) at once rather than
            # after its default minute, so every panel has data early; healthy otherwise. Its
            # slow backends last 20s, not 8 min, so stopping the bot never waits on them.
            "BOTWATCH_DEMO_FIRST_INCIDENT": "5",
            "BOTWATCH_DEMO_SPIKE_LENGTH": "20",
            **(extra_env or {}),
        }
        super().__init__("bot", [sys.executable, "-m", "botwatch.demo"], workdir / "bot.log", env)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        wait_http(f"http://{self.target}/metrics", 30, process=self.process)


def _compose_defaults(text: str) -> str:
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def compose_command(service: str) -> list[str]:
    """The command compose.yaml gives a service, each ${VAR:-default} at its default."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    return [_compose_defaults(arg) for arg in compose["services"][service]["command"]]


def compose_environment(service: str) -> dict[str, str]:
    """The environment compose.yaml gives a service, each ${VAR:-default} at its default."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    return {
        k: _compose_defaults(str(v)) for k, v in compose["services"][service]["environment"].items()
    }


def cluster_flags(service: str, gossip: Mapping[str, str]) -> list[str]:
    """compose.yaml's --cluster.* flags for an Alertmanager, each gossip address (a compose
    service name → host:port) replaced by the local one for that service."""
    compose_addresses = {
        name: next(
            arg.split("=", 1)[1]
            for arg in compose_command(name)
            if arg.startswith("--cluster.listen-address=")
        )
        for name in gossip
    }
    local = {compose_addresses[name]: address for name, address in gossip.items()}
    flags = [arg for arg in compose_command(service) if arg.startswith("--cluster.")]
    return [re.sub(r"=(.+)$", lambda m: "=" + local[m.group(1)], flag) for flag in flags]


class Alertmanager(Process):
    """alertmanager with a rendered project config (write_alertmanager_config's, for the stack).

    Alone by default (no gossip); `cluster` gives it compose.yaml's cluster flags instead.
    """

    def __init__(
        self,
        tool: Callable[[str], str],
        workdir: Path,
        config: Path,
        *,
        name: str = "alertmanager",
        cluster: list[str] | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = config
        args = [
            tool("alertmanager"),
            f"--config.file={self.config}",
            f"--storage.path={workdir / name / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            *(cluster if cluster is not None else ["--cluster.listen-address="]),
        ]
        super().__init__(name, args, workdir / f"{name}.log")

    def start(self) -> None:
        super().start()
        wait_http(f"{self.url}/-/ready", 30, process=self.process)

    def post(self, alerts: list[dict]) -> None:
        """Send alerts the way Prometheus does (API v2)."""
        post_alerts(self.url, alerts)

    def get(self, path: str) -> Any:
        """GET an API v2 path (e.g. "alerts?filter=service%3D%22x%22") as JSON."""
        with urllib.request.urlopen(f"{self.url}/api/v2/{path}", timeout=10) as response:
            return json.load(response)


class VictoriaMetrics(Process):
    """victoria-metrics with compose.yaml's flags (retention, deduplication); data, port local."""

    def __init__(self, tool: Callable[[str], str], workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        local = {
            "-storageDataPath": str(workdir / "victoriametrics"),
            "-httpListenAddr": f"127.0.0.1:{self.port}",
        }
        flags = [arg.split("=", 1) for arg in compose_command("victoriametrics")]
        args = [tool("victoria-metrics"), *(f"{k}={local.get(k, v)}" for k, v in flags)]
        super().__init__("victoriametrics", args, workdir / "victoriametrics.log")

    def start(self) -> None:
        super().start()
        wait_http(f"{self.url}/health", 30, process=self.process)


class Prometheus(Process):
    """prometheus with the project's prometheus.yml and rules, scraping the local processes;
    with `longterm`, also remote-writing to it as the `longterm` profile configures. `service`
    is the compose service whose environment it runs with: prometheus-2 is the HA pair's `b`."""

    def __init__(
        self,
        tool: Callable[[str], str],
        workdir: Path,
        bot_target: str,
        am: Alertmanager,
        *,
        fast: bool,
        longterm: VictoriaMetrics | None = None,
        service: str = "prometheus",
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder = workdir / service
        self.config = write_prometheus_config(
            folder,
            bot_target,
            am.port,
            self.port,
            fast=fast,
            longterm=f"127.0.0.1:{longterm.port}" if longterm else None,
        )
        args = [
            tool("prometheus"),
            f"--config.file={self.config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            *compose_feature_flags("prometheus"),
        ]
        if fast:
            # Firing alerts are re-sent every minute by default; an alert that fired before the
            # Alertmanager was discovered (Watchdog, at the first evaluation) would wait that long.
            args.append(f"--rules.alert.resend-delay={FAST_RESEND_DELAY:g}s")
        # compose.yaml's environment for that service (the replica name), with an env label of
        # its own.
        env = compose_environment(service) | {"BOTWATCH_ENV": "e2e"}
        super().__init__(service, args, workdir / f"{service}.log", env)

    def start(self) -> None:
        super().start()
        wait_http(f"{self.url}/-/ready", 30, process=self.process)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now (the API's result list)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)["data"]["result"]


def compose_feature_flags(service: str) -> list[str]:
    """The service's --enable-feature flags in compose.yaml, so the local run behaves the same."""
    return [arg for arg in compose_command(service) if arg.startswith("--enable-feature=")]


def alerting_env(
    fakes: ChatFakes, channels: Mapping[str, str] = CHANNEL_SETTINGS
) -> dict[str, str]:
    """Settings for the renderer: both channels configured (or `channels`), known link bases."""
    return {
        # Only "is it set" matters to the renderer; Alertmanager reads the URL from the secret file.
        **channels,
        "TELEGRAM_WARNINGS": "true",
        "TELEGRAM_API_URL": fakes.telegram.api_url,
        "GRAFANA_URL": GRAFANA_URL,
        "RUNBOOK_BASE_URL": RUNBOOK_BASE_URL,
    }


def _shorten_routes(route: dict[str, Any]) -> None:
    for key, value in (("group_wait", "1s"), ("group_interval", "2s")):
        if key in route:
            route[key] = value
    for child in route.get("routes", []):
        _shorten_routes(child)


def write_alertmanager_config(
    folder: Path, fakes: ChatFakes, *, fast: bool, channels: Mapping[str, str] = CHANNEL_SETTINGS
) -> Path:
    secrets = folder / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "discord_webhook_url").write_text(fakes.discord.webhook_url + "\n")
    (secrets / "telegram_bot_token").write_text(TELEGRAM_BOT_TOKEN + "\n")
    (secrets / "telegram_chat_id").write_text(f"{TELEGRAM_CHAT_ID}\n")
    templates = str(REPO / "alertmanager" / "templates")
    render(alerting_env(fakes, channels), folder, templates_dir=templates, secrets_dir=str(secrets))
    config = folder / "alertmanager.yml"
    if fast:
        data = yaml.safe_load(config.read_text())
        _shorten_routes(data["route"])
        config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def write_prometheus_config(
    folder: Path,
    bot: str,
    am_port: int,
    own_port: int,
    *,
    fast: bool,
    longterm: str | None = None,
) -> Path:
    """prometheus.yml for local processes: bot, prometheus and alertmanager jobs only; with
    `longterm` (host:port of a VictoriaMetrics), as `make up` renders it for that profile."""
    folder.mkdir(parents=True, exist_ok=True)
    profiles = {"COMPOSE_PROFILES": "longterm" if longterm else ""}
    config = yaml.safe_load(prometheus_config(profiles, REPO))
    for remote in config.get("remote_write", []):
        remote["url"] = remote["url"].replace("victoriametrics:8428", str(longterm))
    local = {
        "bot": bot,
        "prometheus": f"127.0.0.1:{own_port}",
        "alertmanager": f"127.0.0.1:{am_port}",
    }
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] not in local:
            continue  # the other components do not run here; they would only alert as down
        # The optional second instances (`ha` profile) are found by DNS; none runs here.
        job.pop("file_sd_configs", None)
        job.pop("dns_sd_configs", None)
        labels = {"service": "bot"} if job["job_name"] == "bot" else {}
        job["static_configs"] = [{"targets": [local[job["job_name"]]], "labels": labels}]
        if fast:
            job["scrape_interval"] = job["scrape_timeout"] = "1s"
        jobs.append(job)
    config["scrape_configs"] = jobs
    config["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [local["alertmanager"]]}]}
    ]
    rules = folder / "rules"
    rules.mkdir(exist_ok=True)
    for source in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
        (rules / source.name).write_text(_rule_file(source, fast=fast))
    config["rule_files"] = [str(rules / "*.yml")]
    if fast:
        config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _rule_file(source: Path, *, fast: bool) -> str:
    if not fast:
        return source.read_text()
    data = yaml.safe_load(source.read_text())
    for group in data.get("groups", []):
        group.pop("interval", None)  # evaluate with the fast global interval
        for rule in group.get("rules", []):
            if rule.get("alert") in FAST_ALERTS and "for" in rule:
                rule["for"] = FAST_FOR
    return yaml.safe_dump(data, sort_keys=False)


class ProcessGroup:
    """Processes started in order (`processes`), stopped in reverse."""

    processes: list[Process]

    def start(self) -> Self:
        for process in self.processes:
            process.start()
        return self

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        """The last lines of every process log, for assertion messages."""
        return "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in self.processes)


Group = TypeVar("Group", bound=ProcessGroup)


@contextmanager
def running(group: Group, what: str) -> Iterator[Group]:
    """The group started (else the test fails with every process' log), then closed."""
    try:
        group.start()
    except Exception as exc:
        group.close()
        pytest.fail(f"the {what} did not start: {exc}\n{group.logs()}")
    try:
        yield group
    finally:
        group.close()


class NativeStack(ProcessGroup):
    """Bot (with `bot_env` added to its environment), Alertmanager (with the chat fakes),
    optionally VictoriaMetrics (`longterm`), and Prometheus, started in dependency order."""

    def __init__(
        self,
        tool: Callable[[str], str],
        workdir: Path,
        fakes: ChatFakes,
        *,
        fast: bool,
        longterm: bool = False,
        bot_env: Mapping[str, str] | None = None,
    ):
        self.fakes = fakes
        self.bot = DemoBot(workdir, bot_env)
        config = write_alertmanager_config(workdir / "alertmanager", fakes, fast=fast)
        self.alertmanager = Alertmanager(tool, workdir, config)
        self.victoriametrics = VictoriaMetrics(tool, workdir) if longterm else None
        self.prometheus = Prometheus(
            tool,
            workdir,
            self.bot.target,
            self.alertmanager,
            fast=fast,
            longterm=self.victoriametrics,
        )

    @property
    def processes(self) -> list[Process]:
        """In start order."""
        optional = [self.victoriametrics] if self.victoriametrics else []
        return [self.bot, self.alertmanager, *optional, self.prometheus]
