"""Tests of botwatch.observability: setup() and the object it returns."""

from __future__ import annotations

import logging
import platform

import aiohttp
import botwatch
import discord
import pytest
from botwatch.logging import LogHandler
from prometheus_client import CollectorRegistry

from tests.unit.exporter.bots import make_bot


class TestSetup:
    async def test_settings_come_from_the_environment(self, registry, logs, monkeypatch):
        """BOTWATCH_PORT, BOTWATCH_SERVICE and LOG_LEVEL are honoured without arguments."""
        monkeypatch.setenv("BOTWATCH_PORT", "0")
        monkeypatch.setenv("BOTWATCH_SERVICE", "envbot")
        monkeypatch.setenv("LOG_LEVEL", "warning")
        obs = botwatch.setup(registry=registry, log_stream=logs)
        assert await obs.start()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{obs.port}/health/live") as response,
        ):
            assert response.status == 200
        await obs.close()
        logging.getLogger("x").warning("w")
        logging.getLogger("x").info("i")
        assert [r["message"] for r in logs.records()] == ["w"]
        assert logs.find("w")["service"] == "envbot"

    async def test_async_with_starts_and_closes(self, obs):
        """`async with obs:` serves inside the block and stops serving after it."""
        async with obs, aiohttp.ClientSession() as http:
            port = obs.port
            async with http.get(f"http://127.0.0.1:{port}/health/live") as response:
                assert response.status == 200
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectionError):
                await http.get(f"http://127.0.0.1:{port}/health/live")

    def test_build_info_names_the_runtime(self, registry, logs, value):
        """bot_build_info carries the given version and revision, Python and discord.py."""
        botwatch.setup(registry=registry, log_stream=logs, version="1.2.3", revision="abc123")
        labels = {
            "version": "1.2.3",
            "revision": "abc123",
            "python": platform.python_version(),
            "discord_py": discord.__version__,
        }
        assert value("bot_build_info", **labels) == 1

    def test_logging_can_be_left_alone(self, registry):
        """configure_logging=False installs no handler on the root logger."""
        before = list(logging.getLogger().handlers)
        botwatch.setup(registry=registry, configure_logging=False)
        assert logging.getLogger().handlers == before

    def test_an_injected_logger_gets_the_handler(self, registry, logs):
        """With logger=, the JSON handler goes on that logger and the root logger is untouched."""
        root_before = list(logging.getLogger().handlers)
        mine = logging.getLogger("mybot")
        obs = botwatch.setup(registry=registry, log_stream=logs, logger=mine)
        try:
            assert logging.getLogger().handlers == root_before
            mine.warning("only mine")
            obs.log_handler.flush()
            assert logs.find("only mine")["logger"] == "mybot"
        finally:
            mine.handlers.clear()

    def test_a_second_setup_replaces_the_log_handler(self, registry, logs):
        """Calling setup() twice leaves one botwatch handler on the root logger."""
        botwatch.setup(registry=registry, log_stream=logs)
        botwatch.setup(registry=CollectorRegistry(), log_stream=logs)
        ours = [h for h in logging.getLogger().handlers if isinstance(h, LogHandler)]
        assert len(ours) == 1


class TestInstrument:
    async def test_instrumenting_twice_hooks_once(self, obs, value):
        """A second instrument() of the same bot does not double-count events."""
        bot = make_bot()
        assert obs.instrument(bot) is bot
        obs.instrument(bot)
        bot.dispatch("guild_join", None)
        assert value("bot_gateway_events_total", event="guild_join") == 1

    async def test_readiness_waits_for_the_gateway(self, obs):
        """An instrumented bot that never connected is not ready."""
        obs.instrument(make_bot())
        assert not await obs.health.evaluate()
