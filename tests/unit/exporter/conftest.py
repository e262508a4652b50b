"""Fixtures for the botwatch library tests: isolated registries, loggers and instances."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
from collections.abc import Iterator

import botwatch
import discord.ext.test as dpytest
import pytest
import sentry_sdk
from discord.ext import commands
from prometheus_client import CollectorRegistry

from tests.unit.exporter.bots import make_bot


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry, so each test sees only its own series."""
    return CollectorRegistry()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch) -> None:
    """No BOTWATCH_*, SENTRY_*, OTEL_* or LOG_LEVEL from the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("BOTWATCH_", "SENTRY_", "OTEL_")) or name == "LOG_LEVEL":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _no_sentry_breadcrumbs_from_earlier_tests() -> None:
    """Once a test has initialised Sentry, its logging integration stays installed and turns
    every later test's log records into breadcrumbs; clear them so none reaches a later
    test's envelopes (the scrubbing tests search those for planted secrets)."""
    for scope in (
        sentry_sdk.get_global_scope(),
        sentry_sdk.get_isolation_scope(),
        sentry_sdk.get_current_scope(),
    ):
        scope.clear_breadcrumbs()


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    """setup() installs a handler on the root logger; put the root logger back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class Logs(io.StringIO):
    """The JSON log stream of a test, readable as parsed lines."""

    def records(self) -> list[dict]:
        """Every line logged so far (once the log writer thread has written it), parsed."""
        for handler in logging.getLogger().handlers:
            handler.flush()
        return [json.loads(line) for line in self.getvalue().splitlines() if line]

    def find(self, message: str) -> dict:
        """The first line whose message is ``message``."""
        return next(r for r in self.records() if r["message"] == message)


@pytest.fixture
def logs() -> Logs:
    """Where the test's botwatch instance writes its JSON lines."""
    return Logs()


@pytest.fixture
def obs(registry: CollectorRegistry, logs: Logs) -> botwatch.Observability:
    """A botwatch instance on a fresh registry and a free port, logging into ``logs``."""
    return botwatch.setup(
        service="testbot", registry=registry, port=0, log_level="DEBUG", log_stream=logs
    )


@pytest.fixture
def value(registry: CollectorRegistry):
    """``value(name, **labels)``: a sample of the test's registry, 0.0 when absent."""

    def get(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    return get


@pytest.fixture
def eventually():
    """``await eventually(predicate)``: poll until true (2 s at most), for work done in tasks."""

    async def wait(predicate, within: float = 2.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("condition not met within the timeout")
            await asyncio.sleep(0.005)

    return wait


@pytest.fixture
async def dpytest_bot():
    """``await dpytest_bot(cog, obs)``: a commands.Bot with ``cog``, instrumented by ``obs``,
    driven by dpytest.

    botwatch is attached before dpytest wires its state, so dpytest's state dispatches
    gateway events through botwatch's hook, as discord.py's own state does.
    """

    async def make(cog: commands.Cog, obs: botwatch.Observability) -> commands.Bot:
        bot = make_bot()
        await bot._async_setup_hook()
        await bot.add_cog(cog)
        obs.instrument(bot)
        dpytest.configure(bot)
        return bot

    yield make
    await dpytest.empty_queue()
