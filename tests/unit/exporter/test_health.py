"""Tests of botwatch.health: how checks pass, fail and are remembered."""

from __future__ import annotations

import asyncio

import pytest
from botwatch.health import Health
from prometheus_client import Gauge

from tests.support.polling import apoll


@pytest.fixture
def health(registry) -> Health:
    """A Health on a fresh gauge, with a short timeout."""
    return Health(Gauge("t_ready", "Ready.", registry=registry), timeout=0.05)


class TestChecks:
    async def test_no_checks_means_ready(self, health, value):
        """With nothing registered the bot is ready and the gauge says 1."""
        assert await health.evaluate()
        assert value("t_ready") == 1

    async def test_a_slow_check_times_out(self, health, value):
        """A check slower than the timeout fails with a message saying so."""

        async def slow() -> None:
            await asyncio.sleep(1)

        health.add_check("slow", slow)
        assert not await health.evaluate()
        assert health.results["slow"].error == "timed out after 0.05s"
        assert value("t_ready") == 0

    async def test_returning_false_fails(self, health):
        """A check returning False fails; returning None passes."""

        async def no() -> bool:
            return False

        async def fine() -> None:
            return None

        health.add_check("no", no)
        health.add_check("fine", fine)
        assert not await health.evaluate()
        assert (health.results["no"].ok, health.results["fine"].ok) == (False, True)

    async def test_the_last_error_outlives_recovery(self, health):
        """After a failing check recovers, its last error is still shown."""
        state = {"fail": True}

        async def flaky() -> None:
            if state["fail"]:
                raise OSError("unreachable")

        health.add_check("flaky", flaky)
        await health.evaluate()
        state["fail"] = False
        assert await health.evaluate()
        assert health.status()["flaky"]["last_error"] == "OSError: unreachable"

    async def test_checks_run_concurrently(self, registry):
        """Two checks that each wait for the other to start both pass: they run at the same time."""
        health = Health(Gauge("t_ready", "Ready.", registry=registry), timeout=5)
        started: list[str] = []
        both = asyncio.Event()

        def waiting_for_the_other(name: str):
            async def check() -> None:
                started.append(name)
                if len(started) == 2:
                    both.set()
                await both.wait()  # run one after the other, the first would time out here

            return check

        health.add_check("a", waiting_for_the_other("a"))
        health.add_check("b", waiting_for_the_other("b"))
        assert await health.evaluate()

    def test_a_non_callable_check_is_refused(self, health):
        """Registering something that cannot be called fails at once, not at the first probe."""
        with pytest.raises(TypeError):
            health.add_check("bad", "not a function")

    async def test_ready_is_refreshed_without_probes(self, health, value):
        """Between /health/ready requests the gauge is re-evaluated every interval."""
        state = {"ok": True}

        async def flag() -> bool:
            return state["ok"]

        health.add_check("flag", flag)
        health.interval = 0.01
        health.start()
        await apoll(lambda: value("t_ready") == 1)
        state["ok"] = False
        await apoll(lambda: value("t_ready") == 0)
        await health.stop()
        assert value("t_ready") == 0

    async def test_the_gateway_check_comes_first(self, health):
        """The gateway function set by the discord.py integration decides readiness too."""
        health.gateway = lambda: False
        assert not await health.evaluate()
        assert health.results["gateway"].error == "not connected"
