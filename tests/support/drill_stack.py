"""Every drill at once on native processes: one demo bot per drill subject, one Prometheus with the
shipped rules (scrape and evaluation every second, every `for:` as shipped), one Alertmanager with
the chat fakes as channels.

Subjects are demo bots told apart by `service="drill-<switch>"`; each reads its drill switches from
its own control file. The crash drill's bot is restarted whenever it exits, like compose's restart
policy. The bot of the target-missing drill is listed through a file_sd file, so the drill can take
it out of discovery. Used by tests/e2e/test_drills.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml
from botwatch.demo.drills import write_switches
from drill.breakage import FAILING_RULES, TINY_RETENTION_SIZE, UNPARSABLE_RULES
from drill.catalog import (
    ALERTMANAGER_DOWN,
    AM_BAD_CONFIG,
    BAD_RULE_FILE,
    CHANNEL_REFUSES,
    CORRUPT_WAL,
    DRILLS,
    FAILING_RULE,
    FILL_DISK,
    NO_ALERTMANAGER,
    NOTHING,
    STOP_AGENT,
    STOP_AM_PEER,
    STOP_BOT,
    STOP_COMPONENT,
    TINY_RETENTION,
    UNLIST_BOT,
    Drill,
)
from drill.rules import prometheus_rule_files
from drill.runner import Environment

from tests.support.chat_fakes import ChatFakes
from tests.support.drill_components import (
    AlertmanagerUnderDrill,
    NodeExporterUnderDrill,
    PortsHeldWhileStopped,
    PrometheusUnderDrill,
)
from tests.support.ingest import Agent
from tests.support.native_stack import (
    Alertmanager,
    DemoBot,
    Process,
    cluster_flags,
    free_port,
    wait_http,
    write_alertmanager_config,
)

# Drills whose conditions do not disturb each other share a bot (two cores run them all): each
# proof looks at its own alert only. The others (a crash, a stuck or disconnected gateway, a
# blocked loop, a stopped or unlisted process, a label cap the bot restarts to clear) get a bot of
# their own.
SHARED = {
    "drill-commands": ("command_errors", "slow_commands"),
    "drill-noise": (
        "log_burst",
        "critical_line",
        "rate_limit_storm",
        "api_errors",
    ),
    "drill-tasks": (
        "stalled_task",
        "failing_task",
        "gateway_latency",
        "memory_growth",
        "log_silence",
    ),
}
# Scraped every second: the subjects replayed the most slowed down (BotMemoryLeak, the 3d burn
# rate) need it to keep replayed samples close enough (scripts/drill/replay.py, MAX_SPACING).
# Every 2 s for the others, which is lighter on two cores.
FAST_SCRAPE = {"drill-commands", "drill-tasks"}


# The stack's own alerts act on small Prometheus and Alertmanager processes under drill, scraped
# by the drill Prometheus as job="prometheus" / job="alertmanager" with these instance names.
# Actions that do not disturb each other share one.
STACK_SUBJECTS = {
    BAD_RULE_FILE: "drill-prometheus-reload",
    ALERTMANAGER_DOWN: "drill-prometheus-reload",  # it sends to drill-alertmanager-down
    FAILING_RULE: "drill-prometheus-rules",
    NO_ALERTMANAGER: "drill-prometheus-rules",
    CORRUPT_WAL: "drill-prometheus-storage",
    TINY_RETENTION: "drill-prometheus-storage",
    STOP_COMPONENT: "drill-alertmanager-down",
    AM_BAD_CONFIG: "drill-alertmanager-config",
    CHANNEL_REFUSES: "drill-alertmanager-config",
    STOP_AM_PEER: "drill-alertmanager-cluster",  # the member that sees its peer go
    FILL_DISK: "drill-node-exporter",
    STOP_AGENT: "drill-agent",  # a bot host's agent, remote-writing to the drill Prometheus
}
# The other member of the drill-alertmanager-cluster pair: the one the drill stops.
AM_PEER = "drill-alertmanager-peer"


def subject_name(drill: Drill) -> str | None:
    """The demo bot (or stack process) a drill acts on, None for none."""
    if drill.action == NOTHING or not drill.native:
        return None
    if drill.action in STACK_SUBJECTS:
        return STACK_SUBJECTS[drill.action]
    for name, switches in SHARED.items():
        if drill.switch in switches:
            return name
    return "drill-" + (drill.switch or drill.action).replace("_", "-")


def scrape_interval(subject: str) -> int:
    return 1 if subject in FAST_SCRAPE else 2


class DrillAgent(PortsHeldWhileStopped, Agent):
    """The bot-host agent AgentDown's drill kills and starts again."""


class DrillBot(PortsHeldWhileStopped, DemoBot):
    """A demo bot for drills: no scheduled incidents, a 5 s sync loop, switches from a file."""

    def __init__(self, workdir: Path, service: str):
        super().__init__(workdir)
        self.name, self.service = service, service
        self.log_path = workdir / f"{service}.log"
        self.switch_file = workdir / f"{service}.switches"
        self.env.update(
            BOTWATCH_SERVICE=service,
            BOTWATCH_DEMO_DRILL_FILE=str(self.switch_file),
            BOTWATCH_DEMO_BURST_EVERY="0",
            BOTWATCH_DEMO_RECONNECT_EVERY="0",
            BOTWATCH_DEMO_SYNC_EVERY="5",
            BOTWATCH_DEMO_RATE="2",
        )
        self.supervised = False

    def switch(self, *names: str) -> None:
        write_switches(self.switch_file, set(names))

    @property
    def interval(self) -> int:
        return scrape_interval(self.service)

    def lines(self) -> list[dict]:
        """The JSON log lines it wrote (stdout), each with the time it was read back."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


class DrillPrometheus(Process):
    """The Prometheus every drill is judged by: shipped rules, bots and stack processes as
    targets, alerts sent to the stack's Alertmanager and to the one under drill."""

    def __init__(self, tool: Callable[[str], str], workdir: Path, ams: list[Alertmanager], bots,
                 sd: Path, stack: dict[str, Process]):  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder = workdir / "prometheus"
        folder.mkdir(parents=True, exist_ok=True)
        shipped = yaml.safe_load(
            (Path(__file__).parents[2] / "prometheus/prometheus.yml").read_text()
        )
        bot_job = next(j for j in shipped["scrape_configs"] if j["job_name"] == "bot")
        # One scrape config per bot (its own interval), all labelled job="bot" as the rules expect.
        jobs = [
            {
                "job_name": f"bot-{b.service}",
                "scrape_interval": f"{b.interval}s",
                "scrape_timeout": f"{b.interval}s",
                "static_configs": [{"targets": [b.target], "labels": {"service": b.service}}],
                "relabel_configs": [
                    *bot_job["relabel_configs"],
                    {"target_label": "job", "replacement": "bot"},
                ],
            }
            for b in bots
        ]
        jobs.append(
            {
                "job_name": "bot",
                "file_sd_configs": [{"files": [str(sd)], "refresh_interval": "5s"}],
                "relabel_configs": bot_job["relabel_configs"],
            }
        )
        for job, kind in (
            ("prometheus", PrometheusUnderDrill),
            ("alertmanager", AlertmanagerUnderDrill),
            ("node-exporter", NodeExporterUnderDrill),
        ):
            targets = [
                {"targets": [f"127.0.0.1:{p.port}"], "labels": {"instance": name}}
                for name, p in stack.items()
                if isinstance(p, kind)
            ]
            jobs.append({"job_name": job, "static_configs": targets})
        config = {
            "global": {
                "scrape_interval": "2s", "scrape_timeout": "2s", "evaluation_interval": "2s",
                "external_labels": {"env": "drill"},
            },
            "alerting": {"alertmanagers": [
                {"static_configs": [{"targets": [f"127.0.0.1:{am.port}" for am in ams]}]}
            ]},
            "rule_files": [str(p) for p in prometheus_rule_files()],
            "scrape_configs": jobs,
        }  # fmt: skip
        self.config = folder / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))
        args = [
            tool("prometheus"),
            f"--config.file={self.config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--rules.alert.resend-delay=2s",
            # As compose.yaml runs it: bot-host agents write their samples in.
            "--web.enable-remote-write-receiver",
        ]
        super().__init__("prometheus", args, workdir / "prometheus.log")

    def start(self) -> None:
        super().start()
        wait_http(f"{self.url}/-/ready", 30, process=self.process)


class DrillStack(Environment):
    """The native drill environment; also the runner's Environment for the live drills."""

    def __init__(
        self, tool: Callable[[str], str], workdir: Path, fakes: ChatFakes, drill_fakes: ChatFakes
    ):
        self.fakes, self.drill_fakes = fakes, drill_fakes
        self.workdir = workdir
        stack_names = set(STACK_SUBJECTS.values())
        names = sorted({n for d in DRILLS if (n := subject_name(d)) not in (None, *stack_names)})
        self.bots = {name: DrillBot(workdir, name) for name in names}
        self.listed = self.bots[subject_name_for_action(UNLIST_BOT)]
        self.sd_file = workdir / "targets.json"
        self._list(True)
        static = [b for b in self.bots.values() if b is not self.listed]
        config = write_alertmanager_config(workdir / "alertmanager", fakes, fast=True)
        self.am = Alertmanager(tool, workdir, config)
        am_down = AlertmanagerUnderDrill(tool, workdir, STACK_SUBJECTS[STOP_COMPONENT], drill_fakes)
        am_config = AlertmanagerUnderDrill(
            tool, workdir, STACK_SUBJECTS[AM_BAD_CONFIG], drill_fakes
        )
        sends_to = {
            STACK_SUBJECTS[BAD_RULE_FILE]: am_down,  # so that stopping it fails its sends
            STACK_SUBJECTS[FAILING_RULE]: am_config,
            STACK_SUBJECTS[CORRUPT_WAL]: am_config,
        }
        self.stack: dict[str, Process] = {
            name: PrometheusUnderDrill(tool, workdir, name, f"127.0.0.1:{am.port}")
            for name, am in sends_to.items()
        }
        self.stack.update({am_down.name: am_down, am_config.name: am_config})
        self.am_down = am_down
        # A clustered pair with compose.yaml's gossip flags, gossiping on local ports.
        pair = {STACK_SUBJECTS[STOP_AM_PEER]: "alertmanager", AM_PEER: "alertmanager-2"}
        gossip = {service: f"127.0.0.1:{free_port()}" for service in pair.values()}
        for name, service in pair.items():
            flags = cluster_flags(service, gossip)
            self.stack[name] = AlertmanagerUnderDrill(tool, workdir, name, drill_fakes, flags)
        self.disk = NodeExporterUnderDrill(tool, workdir, STACK_SUBJECTS[FILL_DISK])
        if self.disk.binary:  # else its one proof is skipped (unavailable says why)
            self.stack[self.disk.name] = self.disk
        ams = [self.am, am_config]
        self.prom = DrillPrometheus(tool, workdir, ams, static, self.sd_file, self.stack)
        self.prometheus, self.alertmanager = self.prom.url, self.am.url
        # An agent with no bots of its own: its `up{job="agent"}` is AgentDown's heartbeat.
        self.agent_host = STACK_SUBJECTS[STOP_AGENT]
        self.agent = DrillAgent(tool, workdir, self.prom.url, "", host=self.agent_host, fast=True)
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> DrillStack:
        # Bots start in parallel (each takes seconds to import discord.py), then are waited for.
        for bot in self.bots.values():
            Process.start(bot)
        for bot in self.bots.values():
            wait_http(f"http://{bot.target}/metrics", 90, process=bot.process)
        for process in self.stack.values():
            process.start()
        self.am.start()
        self.prom.start()
        self.agent.start()
        self._supervisor.start()
        return self

    def close(self) -> None:
        self._stop.set()
        for process in (self.agent, self.prom, self.am, *self.stack.values(), *self.bots.values()):
            process.stop()

    def _supervise(self) -> None:
        """Restart a supervised bot that exited (the crash drill's), as a restart policy does."""
        while not self._stop.wait(0.5):
            for bot in self.bots.values():
                if bot.supervised and bot.process and bot.process.poll() is not None:
                    Process.start(bot)  # no waiting: it may crash again before it answers

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in (self.prom, self.am))

    def _list(self, listed: bool) -> None:
        entries = [{"targets": [self.listed.target], "labels": {"service": self.listed.service}}]
        tmp = self.sd_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries if listed else []))
        tmp.replace(self.sd_file)

    # -- the runner's Environment ----------------------------------------------------
    def bot(self, drill: Drill) -> DrillBot:
        return self.bots[subject_name(drill)]

    def subject(self, drill: Drill) -> dict[str, str]:
        name = subject_name(drill)
        if name is None:
            return {}
        if drill.action == STOP_AGENT:
            return {"host": name}  # the agent's external label, as on a bot host
        return {"instance" if name in self.stack else "service": name}

    def selector(self, drill: Drill) -> str:
        """PromQL label matchers for the series a drill's subject produced."""
        return ", ".join(f'{k}="{v}"' for k, v in self.subject(drill).items())

    def step(self, drill: Drill) -> int:
        """Seconds between the subject's samples."""
        name = subject_name(drill)
        return self.bots[name].interval if name in self.bots else 2

    def ruler(self, drill: Drill) -> str:
        return self.prometheus

    def switch_on(self, drills: list[Drill]) -> None:
        """Make every drill's condition: each bot with all of its drills' switches at once, each
        stack process with all of its drills' actions."""
        by_bot: dict[str, set[str]] = {}
        for drill in drills:
            if drill.switch:
                by_bot.setdefault(subject_name(drill), set()).add(drill.switch)
        for name, switches in by_bot.items():
            self.bots[name].switch(*switches)
        self._stack_actions({d.action for d in drills if d.action in STACK_SUBJECTS}, on=True)

    def switch_off(self, drills: list[Drill]) -> None:
        for drill in drills:
            if drill.switch:
                self._switch_off(drill)
        self._stack_actions({d.action for d in drills if d.action in STACK_SUBJECTS}, on=False)

    def _stack_actions(self, actions: set[str], *, on: bool) -> None:
        subject = {
            a: self.stack[STACK_SUBJECTS[a]] for a in actions if STACK_SUBJECTS[a] in self.stack
        }
        reload = subject.get(BAD_RULE_FILE)
        if reload:
            reload.rule_file("zz-unparsable.yml", UNPARSABLE_RULES if on else None)
            reload.reload()
        failing = subject.get(FAILING_RULE)
        if failing:
            failing.rule_file("zz-failing.yml", FAILING_RULES if on else None)
            failing.reload()
        if NO_ALERTMANAGER in subject:
            subject[NO_ALERTMANAGER].list_alertmanager(not on)  # file_sd: no reload needed
        # Both stop the same Alertmanager: the stack component (STOP_COMPONENT's subject), which is
        # also the one ALERTMANAGER_DOWN's subject, a Prometheus, sends to.
        if ALERTMANAGER_DOWN in subject or STOP_COMPONENT in subject:
            self.am_down.stop() if on else self.am_down.start()
        storage = subject.get(CORRUPT_WAL) or subject.get(TINY_RETENTION)
        if storage and (on or TINY_RETENTION in subject):
            storage.stop()  # one restart for both: the damaged log is read at this start
            if on and CORRUPT_WAL in subject:
                storage.damage_wal()
            tiny = on and TINY_RETENTION in subject
            storage.flags = [f"--storage.tsdb.retention.size={TINY_RETENTION_SIZE}"] if tiny else []
            storage.start()
        if AM_BAD_CONFIG in subject:
            subject[AM_BAD_CONFIG].break_config(on)
        if CHANNEL_REFUSES in subject:
            self.drill_fakes.discord.fail_always(400 if on else None)
        if STOP_AM_PEER in subject:
            self.stack[AM_PEER].stop() if on else self.stack[AM_PEER].start()
        if FILL_DISK in actions:
            self.disk.fill(on)

    def begin(self, drill: Drill) -> None:
        if drill.switch:
            self.bot(drill).switch(drill.switch)
        elif drill.action == STOP_BOT:
            self.bot(drill).kill()  # a crash: SIGTERM would announce a planned stop
        elif drill.action == UNLIST_BOT:
            self._list(False)
        elif drill.action == STOP_AGENT:
            self.agent.kill()  # the host or its agent dies: nothing more arrives

    def _switch_off(self, drill: Drill) -> None:
        bot = self.bot(drill)
        bot.switch()
        if drill.restart_after:
            bot.stop()
            bot.start()

    def end(self, drill: Drill) -> None:
        if drill.switch:
            self._switch_off(drill)
        elif drill.action == STOP_BOT:
            self.bot(drill).start()
        elif drill.action == UNLIST_BOT:
            self._list(True)
        elif drill.action == STOP_AGENT:
            self.agent.start()

    def channels(self) -> list[str]:
        return ["discord", "telegram"]

    def delivered(self, channel: str, labels: Mapping[str, str], since: float) -> bool:
        fake = getattr(self.fakes, channel)
        return any(
            m.at >= since and labels["alertname"] in m.title + m.text
            and labels.get("service", "") in m.title + m.text
            for m in list(fake.messages)
        )  # fmt: skip


def subject_name_for_action(action: str) -> str:
    return next(subject_name(d) for d in DRILLS if d.action == action)


def wait_until_scraped(stack: DrillStack, timeout: float = 120) -> None:
    """Every drill bot and stack process is a healthy target (up == 1) in Prometheus, the agent's
    samples arrive, and Prometheus has seen the Alertmanager pair as a cluster of two (the rule
    compares with the day's most)."""
    from urllib.parse import quote

    from drill.promapi import get_json

    deadline = time.monotonic() + timeout
    ready = {
        "agent": f'up{{job="agent", host="{stack.agent_host}"}} == 1',
        "cluster": "alertmanager_cluster_members"
        f'{{instance="{STACK_SUBJECTS[STOP_AM_PEER]}"}} == 2',
    }
    want = set(stack.bots) | set(stack.stack) | set(ready)
    while time.monotonic() < deadline:
        targets = get_json(f"{stack.prometheus}/api/v1/targets")["data"]["activeTargets"]
        healthy = [t["labels"] for t in targets if t["health"] == "up"]
        up = {labels.get("service") or labels["instance"] for labels in healthy}
        for name, expr in ready.items():
            if get_json(f"{stack.prometheus}/api/v1/query?query={quote(expr)}")["data"]["result"]:
                up.add(name)
        if want <= up:
            return
        time.sleep(1)
    raise TimeoutError(f"not scraped within {timeout}s: {sorted(want - up)}")
