"""Event-loop lag, sampled by a background task that measures how late its sleeps wake."""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import Histogram

from .errors import ErrorReporter


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class LoopLagMonitor:
    """Observes ``event_loop_lag_seconds`` every ``interval`` seconds while running."""

    def __init__(self, histogram: Histogram, errors: ErrorReporter, *, interval: float = 0.25):
        self._histogram = histogram
        self._errors = errors
        self.interval = interval
        self.last = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling in the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="botwatch-loop-lag"
            )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval)
            try:
                self.last = max(0.0, loop.time() - started - self.interval)
                self._histogram.observe(self.last)
            except Exception as exc:
                self._errors.report("loop_lag", exc)

    async def stop(self) -> None:
        """Cancel the sampler and wait for it to end."""
        task, self._task = self._task, None
        await stop_task(task)
