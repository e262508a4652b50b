"""Fire-drill switches: make the demo bot produce, for real, the condition an alert watches.

A running demo bot reads its switches every second from a control file
(``BOTWATCH_DEMO_DRILL_FILE``, default ``<tmp>/botwatch-demo-drill``): the names of the
conditions to produce, separated by white space. Nothing here touches a metric: each switch
changes what the simulated Discord, the bot's commands or its loops do, and botwatch measures
the result like any other. ``make drill`` sets them inside the bot's container::

    python -m botwatch.demo.drills set memory_growth     # switch on (replaces the set)
    python -m botwatch.demo.drills clear                 # everything back to normal
    python -m botwatch.demo.drills list                  # what each switch does

Switches act once a second from the simulator's incident loop, never on a command's path.
"""

from __future__ import annotations

import logging
import mmap
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the simulator imports this module, not the other way round at run time
    from .traffic import OfflineDiscord

log = logging.getLogger("demo.drill")

# Each switch and what it makes the bot do (``make drill`` prints these).
CONDITIONS: dict[str, str] = {
    "memory_growth": "resident memory grows by 2 MiB a second, held until the switch is off",
    "crash": "the process exits (status 70) 8 s after it starts; a restart policy makes a loop",
    "stuck": "the gateway stays connected but no event and no command reaches the bot",
    "disconnect": "the gateway session drops and does not resume",
    "gateway_latency": "heartbeats are acknowledged about 2.8 s after they are sent",
    "stalled_task": "the sync_stats loop hangs inside an iteration (no success, no failure)",
    "failing_task": "every refresh_cache iteration raises (the loop retries, each try counted)",
    "rate_limit_storm": "half of the Discord REST calls are answered 429 (scope user)",
    "api_errors": "a third of the Discord REST calls are answered 503",
    "command_errors": "60 % of backend calls fail: about a quarter of the commands end in error",
    "slow_commands": "every backend call waits about 3 s longer",
    "loop_lag": "the event loop is blocked for 400 ms every second",
    "log_burst": "ten error lines a second",
    "critical_line": "a critical line every 30 s",
    "log_silence": "the bot writes no log line at all",
    "label_overflow": "tracked operations get ten new names a second, past the label cap",
}

MEMORY_STEP = 2 * 1024 * 1024
CRASH_AFTER = 8.0  # long enough for a few scrapes to see each life
CRASH_STATUS = 70  # EX_SOFTWARE
API_ERROR_SHARE = 1 / 3
RATE_LIMIT_SHARE = 0.5
DRILL_ERROR_RATE = 0.6
DRILL_BACKEND_DELAY = 3.0
LAG_BLOCK = 0.4
CRITICAL_EVERY = 30.0
BURST_LINES = 10
NEW_OPERATIONS = 10


def control_file() -> Path:
    """Where the switches are read from (and written by ``set``/``clear``)."""
    default = Path(tempfile.gettempdir()) / "botwatch-demo-drill"
    return Path(os.environ.get("BOTWATCH_DEMO_DRILL_FILE", "").strip() or default)


def read_switches(path: Path) -> set[str]:
    """The switches named in the file (none if it is missing)."""
    try:
        return set(path.read_text().split())
    except FileNotFoundError:
        return set()


def write_switches(path: Path, names: set[str]) -> None:
    """Replace the switches atomically (a reader never sees half a file)."""
    unknown = names - CONDITIONS.keys()
    if unknown:
        raise ValueError(f"unknown drill condition(s): {', '.join(sorted(unknown))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(" ".join(sorted(names)) + "\n")
    tmp.replace(path)


class Drills:
    """Applies the switches to a running :class:`OfflineDiscord`, once a second."""

    def __init__(self, offline: OfflineDiscord, path: Path | None = None) -> None:
        self.offline = offline
        self.path = path or control_file()
        self.active: set[str] = set()
        self._memory: list[mmap.mmap] = []
        self._started = time.monotonic()
        self._last_critical = 0.0
        self._operation = 0
        self._logging_disabled = False

    def refresh(self) -> None:
        """Re-read the file; log each change (before silencing the logs, after un-silencing)."""
        try:
            wanted = read_switches(self.path) & CONDITIONS.keys()
        except OSError:
            return  # unreadable for a moment: keep the switches as they are
        if wanted != self.active:
            if "log_silence" not in wanted:
                self._silence(False)
            log.warning("drill switches now: %s", " ".join(sorted(wanted)) or "none")
            self.active = wanted

    async def apply(self) -> None:
        """Override the simulator's conditions with the active switches (called every second)."""
        self.refresh()
        on = self.active.__contains__
        offline, conditions = self.offline, self.offline.conditions
        if on("command_errors"):
            conditions.error_rate = DRILL_ERROR_RATE
        if on("slow_commands"):
            conditions.backend_delay = DRILL_BACKEND_DELAY
        if on("rate_limit_storm"):
            offline.api.rate_limit_probability = RATE_LIMIT_SHARE
        offline.api.error_probability = API_ERROR_SHARE if on("api_errors") else 0.0
        conditions.failing_task = (
            "refresh_cache" if on("failing_task") else offline.settings.stall_task
        )
        conditions.hung_task = "sync_stats" if on("stalled_task") else None
        offline.stuck = on("stuck")
        offline.slow_heartbeats = on("gateway_latency")
        await self._gateway(on("disconnect"))
        self._grow_memory(on("memory_growth"))
        self._crash(on("crash"))
        if on("loop_lag"):
            time.sleep(LAG_BLOCK)  # noqa: ASYNC251 (blocking on purpose: that is what lag is)
        self._logs(on)
        if on("label_overflow"):
            for _ in range(NEW_OPERATIONS):
                self._operation += 1
                with offline.bot.obs.track(f"drill.operation{self._operation}"):
                    pass
        self._silence(on("log_silence"))

    async def _gateway(self, down: bool) -> None:
        offline = self.offline
        if down and offline.connected:
            log.warning("drill: gateway disconnected, not resuming")
            offline.disconnect()
        elif not down and not offline.connected and not offline.reconnecting:
            offline.resume()

    def _grow_memory(self, on: bool) -> None:
        if not on:
            # Anonymous maps go straight back to the kernel: resident memory really drops.
            for block in self._memory:
                block.close()
            self._memory.clear()
            return
        block = mmap.mmap(-1, MEMORY_STEP)
        block.write(b"\x01" * MEMORY_STEP)  # touch every page, or it is not resident
        self._memory.append(block)

    def _crash(self, on: bool) -> None:
        if on and time.monotonic() - self._started >= CRASH_AFTER:
            log.critical("drill: crashing on purpose (exit %d)", CRASH_STATUS)
            logging.shutdown()
            os._exit(CRASH_STATUS)

    def _logs(self, on) -> None:
        if on("log_burst"):
            for i in range(BURST_LINES):
                log.error("drill: error line %d of a burst", i)
        now = time.monotonic()
        if on("critical_line") and now - self._last_critical >= CRITICAL_EVERY:
            self._last_critical = now
            log.critical("drill: a critical line")

    def _silence(self, on: bool) -> None:
        if on != self._logging_disabled:
            logging.disable(logging.CRITICAL if on else logging.NOTSET)
            self._logging_disabled = on

    def close(self) -> None:
        """Give back drill memory and logging."""
        self._grow_memory(False)
        self._silence(False)


def main(argv: list[str]) -> int:
    """``python -m botwatch.demo.drills set NAME... | clear | list``."""
    command, names = (argv[0] if argv else "list"), set(argv[1:])
    path = control_file()
    if command == "list":
        for name, what in CONDITIONS.items():
            print(f"{name:17} {what}")
    elif command == "set":
        write_switches(path, names)
        print(f"drill switches on: {' '.join(sorted(names))} ({path})")
    elif command == "clear":
        write_switches(path, set())
        print(f"drill switches cleared ({path})")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
