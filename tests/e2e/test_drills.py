"""Every shipped alert can be made to fire by its drill, for real (scripts/drill/catalog.py).

All drills run at once, for about six minutes, on native processes (tests/support/drill_stack.py):
the live ones through the drill runner (`make drill`'s), timed from condition to Prometheus,
Alertmanager and the chat fakes and back to resolved; the long ones are switched on for BAD
seconds, off for GOOD seconds, and their samples replayed slower to promtool against the
shipped rules (scripts/drill/replay.py); the Loki ones by their real log lines. The alerts are
read from the rule files, so an alert added without a drill fails here (those catalog checks
run in `make test`; the drills themselves, marked `drills`, in `make test-drills`).
"""

from __future__ import annotations

import functools
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from drill import replay
from drill.catalog import BY_ALERT, DRILLS, FILL_DISK, UNLIST_BOT
from drill.rules import alert_rules, prometheus_rule_files
from drill.runner import run

from tests.config.logs.conftest import PROMTAIL_YML, load_expanded
from tests.config.logs.relabel import relabel
from tests.support.chat_fakes import ChatFakes
from tests.support.drill_stack import DrillStack, wait_until_scraped
from tests.support.logql import check_logql

# The one session runs every drill (about six minutes) and its replays before the first test
# that reads it; on a loaded two-core machine that can pass the suite's 600 s per test. The
# tests that need it are marked `drills` (make test-drills); the catalog checks run everywhere.

NOT_NATIVE = {"grafana", "loki", "promtail", "alloy"}
BAD, GOOD = 190, 160  # seconds each stretch drill is on, then off (see scripts/drill/catalog.py)
LIVE_TIMEOUT = 240
RULES = alert_rules()
PROM_RULES = [r for r in RULES if r.engine == "prometheus"]
LOKI_RULES = [r for r in RULES if r.engine == "loki"]


def test_every_alert_has_a_drill():
    """Each alerting rule of Prometheus and Loki has a drill: a rule without one may be
    unreachable, which is what this finds."""
    assert sorted({r.alert for r in RULES} - BY_ALERT.keys()) == []


def test_stack_only_drills_need_a_component_that_cannot_run_here():
    """A drill may skip the native proof only for an alert on Grafana, Loki, Promtail or Alloy,
    which have no native binary here (`make test-stack` runs them). The bot may be a condition
    (the log shipper alerts compare with the lines it logged), never the subject."""
    for rule in PROM_RULES:
        drill = BY_ALERT.get(rule.alert)
        if drill and not drill.native:
            jobs = set(re.findall(r'job=~?"([^"]+)"', rule.expr)) - {"bot"}
            assert jobs and all(set(j.split("|")) <= NOT_NATIVE for j in jobs), rule.alert


def test_every_drill_belongs_to_a_shipped_alert():
    """No drill is left for an alert that no longer exists."""
    assert sorted(BY_ALERT.keys() - {r.alert for r in RULES}) == []


def test_every_switch_exists_in_the_demo():
    """Each drill's switch is one the demo bot knows."""
    from botwatch.demo.drills import CONDITIONS

    assert sorted({d.switch for d in DRILLS if d.switch} - CONDITIONS.keys()) == []


def test_loki_drills_are_marked_loki():
    """A drill proves a Loki rule by log lines, a Prometheus rule by Prometheus."""
    engines = {r.alert: r.engine for r in RULES}
    assert {d.alert: d.loki for d in DRILLS if d.alert in engines} == {
        d.alert: engines[d.alert] == "loki" for d in DRILLS if d.alert in engines
    }


LIVE = [r for r in PROM_RULES if BY_ALERT.get(r.alert) and BY_ALERT[r.alert].mode == "live"]
STRETCHED = [r for r in PROM_RULES if BY_ALERT.get(r.alert) and BY_ALERT[r.alert].mode == "stretch"]


class Session:
    """The one run of every drill; tests read its results."""

    def __init__(self, stack: DrillStack, folder: Path, promtool: str):
        self.stack, self.folder, self.promtool = stack, folder, promtool
        self.live: dict[str, object] = {}
        self.replays: dict[str, tuple[replay.Recording, subprocess.CompletedProcess]] = {}
        self.window = (0.0, 0.0)
        self.switched_on = self.switched_off = 0.0
        self.elapsed = 0.0

    def run(self) -> None:
        started = time.monotonic()
        stack = self.stack
        stretched = [d for d in DRILLS if d.mode in ("stretch", "loki")]
        for drill in stretched:
            if drill.switch == "crash":
                stack.bot(drill).supervised = True
        threads = [
            threading.Thread(target=self._live, args=(d,), daemon=True)
            for d in DRILLS
            if d.mode == "live"
        ]
        for thread in threads:
            thread.start()
        self.switched_on = time.time()
        stack.switch_on(stretched)
        time.sleep(BAD)
        self.switched_off = time.time()
        stack.switch_off(stretched)
        time.sleep(GOOD)
        self.window = (self.switched_on, time.time())
        # The replays, two at a time (two cores), while the live drills finish.
        with ThreadPoolExecutor(max_workers=2) as pool:
            for rule, result in zip(STRETCHED, pool.map(self._replay, STRETCHED), strict=True):
                self.replays[rule.id] = result
        for thread in threads:
            thread.join(max(map(_patience, DRILLS)) * 2)
        self.elapsed = time.monotonic() - started

    def _replay(self, rule):
        """Record what the drill's subject produced, replay it slowed down to promtool."""
        drill, stack = BY_ALERT[rule.alert], self.stack
        names = replay.scraped_names(prometheus_rule_files(), rule.expr)
        recording = replay.record(
            stack.prometheus, stack.selector(drill), names, *self.window, stack.step(drill)
        )
        expected = {"alertname": rule.alert, **stack.subject(drill), **rule.labels, **drill.labels}
        k = drill.factor(rule.labels)
        spec = replay.promtool_test(prometheus_rule_files(), recording, k, expected)
        path = self.folder / f"{rule.id}.test.yml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False, width=1 << 20))
        command = [self.promtool, "test", "rules", str(path)]
        return recording, subprocess.run(command, capture_output=True, text=True, check=False)

    def _live(self, drill) -> None:
        if drill.action == UNLIST_BOT:
            time.sleep(5)  # the rule wants a target that existed: let it be scraped a little
        self.live[drill.alert] = run(self.stack, drill, _patience(drill))


def _patience(drill) -> int:
    """Seconds a live drill may take to fire (and then to resolve)."""
    return drill.patience or LIVE_TIMEOUT


@pytest.fixture(scope="module")
def session(tool, tmp_path_factory):
    with ChatFakes() as fakes, ChatFakes() as drill_fakes:
        folder = tmp_path_factory.mktemp("drills")
        stack = DrillStack(tool, folder, fakes, drill_fakes)
        try:
            stack.start()
            wait_until_scraped(stack)
            result = Session(stack, folder, tool("promtool"))
            result.run()
            print(f"\nall drills ran in {result.elapsed:.0f}s")
            for live in result.live.values():
                print("\n".join(live.lines()))
            yield result
        finally:
            stack.close()


@pytest.mark.drills
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("rule", LIVE, ids=[r.id for r in LIVE])
def test_live_drill_fires_and_resolves(session, rule):
    """The real Prometheus fires the shipped rule with its labels, Alertmanager gets it, and both
    see it resolved after the condition stops."""
    drill = BY_ALERT[rule.alert]
    result = session.live[rule.alert]
    assert result.firing is not None, f"{rule.alert} never fired\n{session.stack.logs()}"
    assert result.fired_labels["severity"] == rule.severity
    assert result.fired_labels.items() >= session.stack.subject(drill).items()
    assert result.alertmanager is not None
    if drill.resolves:
        assert result.resolved is not None and result.am_resolved is not None


@pytest.mark.drills
@pytest.mark.timeout(1800)
def test_a_critical_drill_reaches_both_channels(session):
    """BotDown (critical) is delivered to Discord and Telegram during its drill."""
    channels = session.live["BotDown"].channels
    assert channels and all(t is not None for t in channels.values()), channels


@pytest.mark.drills
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("rule", STRETCHED, ids=[r.id for r in STRETCHED])
def test_stretched_drill_fires_and_resolves_in_promtool(session, rule):
    """The drill's real samples, replayed slower against the shipped rule, make it fire with the
    expected labels and then resolve."""
    if BY_ALERT[rule.alert].action == FILL_DISK and session.stack.disk.unavailable:
        pytest.skip(session.stack.disk.unavailable)
    recording, result = session.replays[rule.id]
    assert recording.series, "nothing was scraped from the drill's subject"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# -- Loki ------------------------------------------------------------------------------
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_THRESHOLD = re.compile(r">\s*(\d+(?:\.\d+)?)\s*$")


@functools.cache
def _target_labels() -> tuple[tuple[str, str], ...]:
    """The labels promtail's relabelling gives the compose `bot` service's container."""
    (scrape,) = load_expanded(PROMTAIL_YML)["scrape_configs"]
    target = {
        "__meta_docker_container_name": "/botwatch-bot-1",
        "__meta_docker_container_label_com_docker_compose_project": "botwatch",
        "__meta_docker_container_label_com_docker_compose_service": "bot",
    }
    return tuple(relabel(target, scrape["relabel_configs"]).items())


def _stream_labels(line: dict) -> dict[str, str]:
    """The labels promtail gives this line of the bot: relabelling (the same for every line, so
    computed once), then the pipeline's json → level/service labels."""
    return {**dict(_target_labels()), "level": line["level"], "service": line["service"]}


def _selects(selector: str, labels: dict[str, str]) -> bool:
    for name, op, value in _MATCHER.findall(selector):
        have = labels.get(name, "")
        ok = {
            "=": have == value, "!=": have != value,
            "=~": re.fullmatch(value, have) is not None, "!~": re.fullmatch(value, have) is None,
        }[op]  # fmt: skip
        if not ok:
            return False
    return True


@pytest.mark.drills
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("rule", LOKI_RULES, ids=[r.id for r in LOKI_RULES])
def test_loki_drill_lines_match_the_rule(session, rule):
    """While the drill is on, its bot's real lines are (or, for silence, are not) selected by the
    rule's stream selector, in numbers past the rule's threshold."""
    assert check_logql([rule.expr]) == [None]
    drill = BY_ALERT[rule.alert]
    bot = session.stack.bot(drill)
    during = [
        line for line in bot.lines()
        if session.switched_on + 2 <= _epoch(line["timestamp"]) <= session.switched_off
    ]  # fmt: skip
    selectors = re.findall(r"\{[^}]*\}", rule.expr)
    selected = [line for line in during if _selects(selectors[0], _stream_labels(line))]
    if drill.switch == "log_silence":
        before = [line for line in bot.lines() if _epoch(line["timestamp"]) < session.switched_on]
        assert before and all(_selects(s, _stream_labels(before[-1])) for s in selectors)
        assert selected == []
        return
    threshold = float(_THRESHOLD.search(rule.expr).group(1))
    assert len(selected) > threshold, f"{len(selected)} matching lines, rule wants > {threshold}"


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
