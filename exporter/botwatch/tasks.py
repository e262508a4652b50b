"""Background-loop heartbeats: last success, interval, duration and failures per loop.

``discord.ext.tasks`` loops found on cogs are watched automatically; any other loop
is marked with ``obs.task_iteration(name, interval)`` around each iteration.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Iterator
from typing import Any

from .errors import ErrorReporter
from .metrics import Metrics

try:
    from discord.ext import tasks as dtasks
except ImportError:  # the [discord] extra is not installed
    dtasks = None

_DAY = 86400.0


def loop_interval(loop: Any) -> float:
    """A ``tasks.Loop``'s period in seconds (explicit times: a day over their count)."""
    if loop.time:
        return _DAY / len(loop.time)
    return (loop.seconds or 0.0) + 60.0 * (loop.minutes or 0.0) + 3600.0 * (loop.hours or 0.0)


class TaskMonitor:
    """Publishes the ``task_*`` metrics for watched loops."""

    def __init__(self, metrics: Metrics, errors: ErrorReporter) -> None:
        self._metrics = metrics
        self._errors = errors

    def bind(self, name: str, interval: float) -> None:
        """Create a task's series and publish its interval."""
        m = self._metrics
        m.task_interval.labels(name).set(interval)
        m.task_failures.labels(name)
        m.task_duration.labels(name)
        m.task_last_success.labels(name)

    def record(self, name: str, ok: bool, duration: float) -> None:
        """One finished iteration (never raises)."""
        try:
            m = self._metrics
            m.task_duration.labels(name).observe(duration)
            if ok:
                m.task_last_success.labels(name).set(time.time())
            else:
                m.task_failures.labels(name).inc()
        except Exception as exc:
            self._errors.report("tasks", exc)

    @contextlib.contextmanager
    def iteration(self, name: str, interval: float | None = None) -> Iterator[None]:
        """Mark one iteration of any loop; an exception counts as a failure and propagates."""
        if interval is not None:
            with self._errors.guard("tasks"):
                self._metrics.task_interval.labels(name).set(interval)
        started = time.perf_counter()
        try:
            yield
        except Exception:
            self.record(name, False, time.perf_counter() - started)
            raise
        self.record(name, True, time.perf_counter() - started)

    def watch(self, loop: Any, name: str | None = None) -> Any:
        """Instrument a ``discord.ext.tasks.Loop`` (idempotent); returns the loop."""
        coro = loop.coro
        if getattr(coro, "_botwatch_task", None):
            return loop
        task = name or coro.__qualname__
        self.bind(task, loop_interval(loop))

        @functools.wraps(coro)
        async def iteration(*args: Any, **kwargs: Any) -> Any:
            # The interval is published each time: change_interval() may have moved it.
            with self.iteration(task, loop_interval(loop)):
                return await coro(*args, **kwargs)

        iteration._botwatch_task = task  # type: ignore[attr-defined]
        loop.coro = iteration
        return loop

    def watch_object(self, obj: Any) -> None:
        """Watch every ``tasks.Loop`` defined on ``obj``'s class (a cog, typically)."""
        if dtasks is None:
            return
        for attr, value in inspect.getmembers(type(obj)):
            if isinstance(value, dtasks.Loop):
                with self._errors.guard("tasks"):
                    self.watch(getattr(obj, attr))
