"""The one run of every drill that tests/e2e/test_drills.py reads, started in the background.

All drills run at once on native processes (tests/support/drill_stack.py), for about six minutes
that are mostly waiting: the live ones through the drill runner (`make drill`'s), timed from
condition to Prometheus, Alertmanager and the chat fakes and back to resolved; the stretched ones
switched on for BAD seconds, off for GOOD seconds, then their samples replayed slower to promtool
against the shipped rules (scripts/drill/replay.py). So that `make test` need not wait for it, the
root conftest starts it with the test session (DrillRun) and orders the tests that read it last:
the rest of the suite runs meanwhile.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from drill import replay
from drill.catalog import BY_ALERT, DRILLS, UNLIST_BOT, Drill
from drill.rules import alert_rules, prometheus_rule_files
from drill.runner import Result, run

from tests.support.chat_fakes import ChatFakes
from tests.support.drill_stack import DrillStack, wait_until_scraped

BAD, GOOD = 190, 190  # seconds each stretch drill is on, then off (see scripts/drill/catalog.py)
LIVE_TIMEOUT = 240  # seconds a live drill may take to fire, and then to resolve (or its patience)
RULES = alert_rules()
PROM_RULES = [r for r in RULES if r.engine == "prometheus"]
LOKI_RULES = [r for r in RULES if r.engine == "loki"]
LIVE = [r for r in PROM_RULES if BY_ALERT.get(r.alert) and BY_ALERT[r.alert].mode == "live"]
STRETCHED = [r for r in PROM_RULES if BY_ALERT.get(r.alert) and BY_ALERT[r.alert].mode == "stretch"]


def patience(drill: Drill) -> int:
    return drill.patience or LIVE_TIMEOUT


class Session:
    """The one run of every drill; tests read its results."""

    def __init__(self, stack: DrillStack, folder: Path, promtool: str, stop: threading.Event):
        self.stack, self.folder, self.promtool, self._stop = stack, folder, promtool, stop
        self.live: dict[str, Result] = {}
        self.replays: dict[str, tuple[replay.Recording, subprocess.CompletedProcess]] = {}
        self.window = (0.0, 0.0)
        self.switched_on = self.switched_off = 0.0
        self.elapsed = 0.0

    def _wait(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise RuntimeError("the drill session was stopped before it ended")

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
        self._wait(BAD)
        self.switched_off = time.time()
        stack.switch_off(stretched)
        self._wait(GOOD)
        self.window = (self.switched_on, time.time())
        # The replays, two at a time (two cores), while the live drills finish.
        with ThreadPoolExecutor(max_workers=2) as pool:
            for rule, result in zip(STRETCHED, pool.map(self._replay, STRETCHED), strict=True):
                self.replays[rule.id] = result
        for thread in threads:
            thread.join(max(map(patience, DRILLS)) * 2)
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
        files = replay.rule_files_for(prometheus_rule_files(), rule.file, rule.expr)
        spec = replay.promtool_test(files, recording, k, expected)
        path = self.folder / f"{rule.id}.test.yml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False, width=1 << 20))
        command = [self.promtool, "test", "rules", str(path)]
        return recording, subprocess.run(command, capture_output=True, text=True, check=False)

    def _live(self, drill: Drill) -> None:
        if drill.action == UNLIST_BOT:
            time.sleep(5)  # the rule wants a target that existed: let it be scraped a little
        self.live[drill.alert] = run(self.stack, drill, patience(drill))


class DrillRun:
    """The session in a thread of its own: start() returns at once, result() waits for it.

    The processes stop as soon as the run ends (their logs stay in `folder` for the tests); an
    error (or a skip: a tool missing) is raised again by result()."""

    def __init__(self, tool: Callable[[str], str], folder: Path):
        self.tool, self.folder = tool, folder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drills", daemon=True)
        self._session: Session | None = None
        self._error: BaseException | None = None

    def start(self) -> DrillRun:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with ChatFakes() as fakes, ChatFakes() as drill_fakes:
                stack = DrillStack(self.tool, self.folder, fakes, drill_fakes)
                try:
                    stack.start()
                    wait_until_scraped(stack)
                    session = Session(stack, self.folder, self.tool("promtool"), self._stop)
                    session.run()
                    self._session = session
                finally:
                    stack.close()
        except BaseException as exc:  # a skip too: result() hands it to the tests
            self._error = exc

    def result(self) -> Session:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._session is not None
        return self._session

    def close(self) -> None:
        """Stop a run still going (the tests were interrupted) and wait for its processes."""
        self._stop.set()
        self._thread.join(60)
