"""Tests of botwatch.loop: the event-loop lag sampler."""

from __future__ import annotations

import asyncio
import time

from botwatch.errors import ErrorReporter
from botwatch.loop import LoopLagMonitor
from prometheus_client import Histogram

from tests.support.polling import apoll


class _Errors(ErrorReporter):
    def __init__(self) -> None:
        self.reported: list[str] = []

    def report(self, component: str, exc: BaseException) -> bool:
        self.reported.append(component)
        return True


class TestSampling:
    async def test_a_blocked_loop_shows_up_as_lag(self, registry, value):
        """Blocking the loop for 100 ms records a lag sample of about that size."""
        lag = Histogram("t_lag_seconds", "Lag.", registry=registry, buckets=(0.05, 1.0))
        monitor = LoopLagMonitor(lag, _Errors(), interval=0.01)
        monitor.start()
        await asyncio.sleep(0.02)
        time.sleep(0.1)  # noqa: ASYNC251 (the point: block the loop)

        def lagged() -> float:
            bucket = "t_lag_seconds_bucket"
            return value(bucket, le="1.0") - value(bucket, le="0.05")

        await apoll(lagged)
        # Later samples are back to normal: wait for one (a busy machine may lag a few first).
        await apoll(lambda: monitor.last < 0.05)
        await monitor.stop()
        assert lagged()
        assert monitor.last < 0.05

    async def test_stop_ends_the_task(self, registry):
        """stop() cancels the sampler; starting twice runs one task."""
        lag = Histogram("t_lag_seconds", "Lag.", registry=registry)
        monitor = LoopLagMonitor(lag, _Errors(), interval=0.01)
        monitor.start()
        monitor.start()
        names = [t.get_name() for t in asyncio.all_tasks()]
        assert names.count("botwatch-loop-lag") == 1
        await monitor.stop()
        assert "botwatch-loop-lag" not in [t.get_name() for t in asyncio.all_tasks()]

    async def test_a_failing_observation_is_reported_not_raised(self):
        """If observing raises, the sampler reports `loop_lag` and keeps sampling."""

        class Broken:
            def observe(self, _: float) -> None:
                raise RuntimeError("broken histogram")

        errors = _Errors()
        monitor = LoopLagMonitor(Broken(), errors, interval=0.005)  # type: ignore[arg-type]
        monitor.start()
        await apoll(lambda: len(errors.reported) >= 2)  # a second report: it kept sampling
        await monitor.stop()
        assert len(errors.reported) >= 2 and set(errors.reported) == {"loop_lag"}
