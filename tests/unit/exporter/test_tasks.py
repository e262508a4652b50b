"""Tests of botwatch.tasks: heartbeats of discord.ext.tasks loops and of any loop."""

from __future__ import annotations

import pytest
from discord.ext import tasks


class TestDiscordLoops:
    async def test_a_watched_loop_exports_its_heartbeat(self, obs, value, eventually):
        """A running tasks.Loop exports last success, interval and iteration durations."""

        @tasks.loop(seconds=0.01, count=3)
        async def refresh() -> None:
            pass

        obs.watch_loop(refresh, "refresh")
        refresh.start()
        await eventually(lambda: value("bot_task_duration_seconds_count", task="refresh") == 3)
        assert value("bot_task_last_success_timestamp_seconds", task="refresh") > 1.7e9
        assert value("bot_task_interval_seconds", task="refresh") == 0.01

    async def test_a_failing_iteration_is_counted_and_still_raised(self, obs, value):
        """An iteration that raises counts a failure; the loop's own error handler still runs."""
        handled: list[BaseException] = []

        @tasks.loop(seconds=0.01, reconnect=False)
        async def sync() -> None:
            raise RuntimeError("backend down")

        @sync.error
        async def on_error(error: BaseException) -> None:
            handled.append(error)

        obs.watch_loop(sync, "sync")
        task = sync.start()
        with pytest.raises(RuntimeError, match="backend down"):
            await task  # discord.py re-raises after its error handler
        assert len(handled) == 1
        assert value("bot_task_failures_total", task="sync") == 1
        assert value("bot_task_last_success_timestamp_seconds", task="sync") == 0

    async def test_a_changed_interval_is_exported(self, obs, value, eventually):
        """change_interval() is reflected at the next iteration."""

        @tasks.loop(seconds=0.01, count=2)
        async def tick() -> None:
            tick.change_interval(seconds=0.02)

        obs.watch_loop(tick, "tick")
        tick.start()
        await eventually(lambda: value("bot_task_duration_seconds_count", task="tick") == 2)
        assert value("bot_task_interval_seconds", task="tick") == 0.02

    def test_watching_twice_wraps_once(self, obs):
        """A second watch_loop() call leaves the loop as the first one made it."""

        @tasks.loop(minutes=5)
        async def hourly() -> None:
            pass

        obs.watch_loop(hourly)
        wrapped = hourly.coro
        obs.watch_loop(hourly)
        assert hourly.coro is wrapped


class TestAnyLoop:
    def test_a_marked_iteration_is_a_heartbeat(self, obs, value):
        """`with obs.task_iteration(name, interval)` exports success and interval."""
        with obs.task_iteration("poller", interval=60):
            pass
        assert value("bot_task_interval_seconds", task="poller") == 60
        assert value("bot_task_last_success_timestamp_seconds", task="poller") > 1.7e9

    def test_a_failed_iteration_is_counted_and_raised(self, obs, value):
        """An exception inside a marked iteration counts a failure and propagates."""
        with pytest.raises(OSError, match="gone"), obs.task_iteration("poller"):
            raise OSError("gone")
        assert value("bot_task_failures_total", task="poller") == 1
