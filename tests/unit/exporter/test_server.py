"""Tests of botwatch.server: the endpoints, a taken port, and shutdown."""

from __future__ import annotations

import asyncio
import gzip
import socket

import aiohttp
import botwatch
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botwatch.server import Scrapes


@pytest.fixture
async def served(obs):
    """The test's botwatch instance, serving on a free port."""
    assert await obs.start()
    yield obs
    await obs.close()


@pytest.fixture
async def http():
    """An HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session


def _url(obs, path: str) -> str:
    return f"http://127.0.0.1:{obs.port}{path}"


class TestMetricsEndpoint:
    async def test_metrics_are_served_as_prometheus_text(self, served, http):
        """GET /metrics answers 200 in the Prometheus text format with the library's metrics."""
        async with http.get(_url(served, "/metrics")) as response:
            body = await response.text()
            assert response.status == 200
            assert response.content_type == "text/plain"
        assert "bot_build_info{" in body

    async def test_openmetrics_is_negotiated(self, served, http):
        """An OpenMetrics Accept header gets the OpenMetrics format, with its EOF marker."""
        headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with http.get(_url(served, "/metrics"), headers=headers) as response:
            body = await response.text()
            assert response.content_type == "application/openmetrics-text"
        assert body.endswith("# EOF\n")

    async def test_gzip_is_negotiated(self, served):
        """A client accepting gzip receives a gzip-encoded body."""
        async with (
            aiohttp.ClientSession(auto_decompress=False) as raw,
            raw.get(_url(served, "/metrics"), headers={"Accept-Encoding": "gzip"}) as response,
        ):
            assert response.headers["Content-Encoding"] == "gzip"
            assert b"bot_build_info" in gzip.decompress(await response.read())


class TestHealthEndpoints:
    async def test_live_answers_while_the_loop_turns(self, served, http):
        """/health/live answers 200 with the last loop-lag sample."""
        async with http.get(_url(served, "/health/live")) as response:
            assert response.status == 200
            assert "loop_lag_seconds" in await response.json()

    async def test_ready_follows_the_checks(self, served, http):
        """/health/ready is 503 while a check fails and 200 once it passes."""
        healthy = False

        async def database() -> bool:
            return healthy

        served.add_readiness_check("database", database)
        async with http.get(_url(served, "/health/ready")) as response:
            assert response.status == 503
        healthy = True
        async with http.get(_url(served, "/health/ready")) as response:
            assert response.status == 200

    async def test_status_details_each_check(self, served, http):
        """/health/status shows each check's result, latency and error."""

        async def cache() -> None:
            raise ConnectionError("redis down")

        served.add_readiness_check("cache", cache)
        async with http.get(_url(served, "/health/status")) as response:
            body = await response.json()
        check = body["checks"]["cache"]
        assert (body["status"], check["ok"]) == ("unavailable", False)
        assert check["error"] == "ConnectionError: redis down"
        assert check["latency_seconds"] >= 0


class TestPortInUse:
    async def test_a_taken_port_is_logged_once_counted_and_survived(self, registry, logs, value):
        """If the port is taken, start() returns False, logs one error and counts it; no crash."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            obs = botwatch.setup(service="s", registry=registry, port=port, log_stream=logs)
            assert await obs.start() is False
            await asyncio.sleep(0.01)  # the loop keeps turning
            await obs.close()
        errors = [r for r in logs.records() if r["level"] == "error"]
        assert len(errors) == 1 and str(port) in errors[0]["message"]
        assert value("bot_exporter_errors_total", component="server") == 1


class TestShutdown:
    async def test_close_stops_serving(self, obs, http):
        """After close() the port refuses connections; a second close() is harmless."""
        await obs.start()
        port = obs.port
        await obs.close()
        await obs.close()
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.1:{port}/health/live")


class TestShutdownAnnouncement:
    async def test_close_announces_the_stop_in_one_more_scrape(self, obs, http):
        """close() sets bot_stopping to 1 and waits for the next scrape, which carries it."""
        await obs.start()
        for _ in range(2):  # a steady scraper: two scrapes 3s apart, so close() waits up to 4.5s
            async with http.get(_url(obs, "/metrics")) as response:
                assert "bot_stopping 0.0" in await response.text()
            await asyncio.sleep(3)
        closing = asyncio.create_task(obs.close())
        await asyncio.sleep(0)
        async with http.get(_url(obs, "/metrics")) as response:
            assert "bot_stopping 1.0" in await response.text()
        await asyncio.wait_for(closing, timeout=60)

    async def test_close_does_not_wait_without_a_steady_scraper(self, obs):
        """Never scraped twice, close() has no interval to go by and does not wait at all."""
        await obs.start()
        assert await obs.scrapes.next(60) is False
        await obs.close()

    async def test_a_scrape_that_does_not_come_ends_the_wait(self):
        """next() gives up after its limit and says so."""
        scrapes = Scrapes()
        scrapes.served()
        scrapes.served()
        assert await scrapes.next(0.01) is False

    async def test_each_scrape_wakes_the_waiter(self):
        """A scrape during next() ends the wait with True."""
        scrapes = Scrapes()
        scrapes.served()
        await asyncio.sleep(0.5)
        scrapes.served()  # an interval of about 0.5s: next() waits up to about 0.75s
        waiting = asyncio.create_task(scrapes.next(60))
        await asyncio.sleep(0)
        scrapes.served()
        assert await waiting is True


class TestInjectedApp:
    async def test_endpoints_mount_on_an_existing_app(self, registry, logs):
        """With app=, the endpoints join the bot's own aiohttp app and no server is started."""
        app = web.Application()
        obs = botwatch.setup(service="s", registry=registry, app=app, log_stream=logs)
        assert obs.port is None and await obs.start()
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/metrics")
            assert response.status == 200
        await obs.close()
