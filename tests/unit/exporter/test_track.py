"""Tests of botwatch.track: obs.track as context manager and decorator."""

from __future__ import annotations

import asyncio

import pytest


class TestContextManager:
    def test_a_block_is_counted_and_timed(self, obs, value):
        """`with obs.track(name)` counts one success and observes its duration."""
        with obs.track("db.query"):
            pass
        assert value("bot_operations_total", operation="db.query", status="success") == 1
        assert value("bot_operation_duration_seconds_count", operation="db.query") == 1

    def test_an_exception_is_an_error_and_propagates(self, obs, value):
        """An exception in the block counts as `error` and still reaches the caller."""
        with pytest.raises(ValueError, match="bad row"), obs.track("db.query"):
            raise ValueError("bad row")
        assert value("bot_operations_total", operation="db.query", status="error") == 1

    async def test_async_with_is_supported(self, obs, value):
        """`async with obs.track(name)` measures the awaited time."""
        async with obs.track("api.call"):
            await asyncio.sleep(0.02)
        assert value("bot_operation_duration_seconds_sum", operation="api.call") >= 0.02

    async def test_cancellation_is_not_an_error(self, obs, value):
        """A cancelled operation is not counted as failed."""

        async def work() -> None:
            async with obs.track("slow"):
                await asyncio.sleep(10)

        task = asyncio.create_task(work())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert value("bot_operations_total", operation="slow", status="error") == 0


class TestDecorator:
    def test_a_sync_function_is_tracked_per_call(self, obs, value):
        """A decorated function counts each call and keeps its name and return value."""

        @obs.track("compute")
        def compute(x: int) -> int:
            return x * 2

        assert (compute(2), compute(3), compute.__name__) == (4, 6, "compute")
        assert value("bot_operations_total", operation="compute", status="success") == 2

    async def test_concurrent_async_calls_are_timed_separately(self, obs, value):
        """Two overlapping calls of one decorated coroutine each record their own duration."""

        @obs.track("fetch")
        async def fetch(delay: float) -> float:
            await asyncio.sleep(delay)
            return delay

        assert await asyncio.gather(fetch(0.01), fetch(0.03)) == [0.01, 0.03]
        assert value("bot_operation_duration_seconds_count", operation="fetch") == 2
        assert 0.04 <= value("bot_operation_duration_seconds_sum", operation="fetch") < 0.1


class TestSpanFailures:
    def test_a_failing_span_never_breaks_the_block(self, obs, value):
        """If creating the Sentry span raises, the block still runs and is recorded."""

        def broken_span(_: str):
            raise TypeError("unexpected keyword argument 'name'")

        obs.operations.span_factory = broken_span
        with obs.track("db.query"):
            pass
        assert value("bot_operations_total", operation="db.query", status="success") == 1
        assert value("bot_exporter_errors_total", component="sentry") == 1
