"""Readiness: the gateway plus every registered check, each timed and remembered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import Gauge

from .loop import stop_task

CheckFn = Callable[[], Awaitable[Any]]


@dataclass(slots=True)
class CheckResult:
    """Outcome of one check run, as shown by ``/health/status``."""

    ok: bool
    latency_seconds: float
    checked_at: float
    error: str | None = None
    last_error: str | None = None


class Health:
    """Runs readiness checks concurrently with a timeout and keeps ``ready`` up to date.

    A check is a coroutine function; it fails when it raises, times out, or returns
    ``False`` (any other return value passes). ``gateway`` is set by the discord.py
    integration and is checked first, synchronously.
    """

    def __init__(self, ready: Gauge, *, timeout: float = 5.0, interval: float = 10.0) -> None:
        self._ready = ready
        self._timeout = timeout
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._checks: dict[str, CheckFn] = {}
        self.results: dict[str, CheckResult] = {}
        self.gateway: Callable[[], bool] | None = None

    def add_check(self, name: str, check: CheckFn) -> None:
        """Register (or replace) a readiness check."""
        if not callable(check):
            raise TypeError(f"readiness check {name!r} must be a coroutine function")
        self._checks[name] = check

    async def evaluate(self) -> bool:
        """Run every check now; update ``results`` and the ``ready`` gauge."""
        now = time.time()
        if self.gateway is not None:
            started = time.perf_counter()
            ok = self.gateway()
            self._store(
                "gateway", ok, time.perf_counter() - started, now, None if ok else "not connected"
            )
        names = list(self._checks)
        outcomes = await asyncio.gather(*(self._run(self._checks[n]) for n in names))
        for name, (ok, latency, error) in zip(names, outcomes, strict=True):
            self._store(name, ok, latency, now, error)
        ready = all(result.ok for result in self.results.values())
        self._ready.set(1 if ready else 0)
        return ready

    async def _run(self, check: CheckFn) -> tuple[bool, float, str | None]:
        started = time.perf_counter()
        try:
            value = await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            return False, time.perf_counter() - started, f"timed out after {self._timeout:g}s"
        except Exception as exc:
            return False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
        ok = value is not False
        return ok, time.perf_counter() - started, None if ok else "returned False"

    def _store(self, name: str, ok: bool, latency: float, now: float, error: str | None) -> None:
        previous = self.results.get(name)
        last_error = error or (previous.last_error if previous else None)
        self.results[name] = CheckResult(ok, latency, now, error, last_error)

    def start(self) -> None:
        """Re-evaluate every ``interval`` seconds, so ``ready`` is current between probes."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._periodically(), name="botwatch-readiness"
            )

    async def _periodically(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.evaluate()

    async def stop(self) -> None:
        """Stop the periodic evaluation."""
        task, self._task = self._task, None
        await stop_task(task)

    def status(self) -> dict[str, dict[str, Any]]:
        """The last result of each check, JSON-ready."""
        return {name: asdict(result) for name, result in self.results.items()}
