"""Tests of botwatch.scrape: the sliced /metrics render is exact and hands the loop back."""

from __future__ import annotations

import asyncio
import gzip
import subprocess

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botwatch.metrics import Metrics
from botwatch.scrape import SLICE, make_handler, render
from prometheus_client import CollectorRegistry, Enum, Info, Summary, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture
def big(registry) -> CollectorRegistry:
    """A registry of every metric kind, with families many slices long and awkward labels."""
    m = Metrics(registry=registry, label_limit=5_000, default_collectors=False)
    for i in range(3 * SLICE):
        m.bind_command(f"cmd_{i}")
        m.command_duration.labels(f"cmd_{i}").observe(i / 100)
    for i in range(2 * SLICE + 7):
        m.events.labels(f'event "{i}"\\\n').inc(i)
    Summary("latency", "doc with \\ and\nnewline", ["a"], registry=registry).labels("x").observe(3)
    Enum("phase", "enum", states=["a", "b"], registry=registry)
    Info("about", "info", registry=registry).info({"k": "v"})
    registry.set_target_info({"env": "test"})
    return registry


@pytest.fixture
async def client(big):
    app = web.Application()
    app.router.add_get("/metrics", make_handler(big))
    async with TestClient(TestServer(app)) as client:
        yield client


class TestExactness:
    @pytest.mark.parametrize(
        ("encode", "openmetrics"), [(generate_latest, False), (openmetrics_latest, True)]
    )
    async def test_render_equals_the_encoder_byte_for_byte(self, big, encode, openmetrics):
        """Rendered in slices, the exposition is byte for byte what the encoder returns at once."""
        assert await render(big, encode, openmetrics=openmetrics, budget=0) == encode(big)

    async def test_the_text_exposition_is_served_exactly(self, client, big):
        """GET /metrics serves generate_latest's bytes as Prometheus text."""
        response = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert response.content_type == "text/plain"
        assert await response.read() == generate_latest(big)

    async def test_openmetrics_is_negotiated(self, client, big):
        """An OpenMetrics Accept header gets the OpenMetrics encoding, exactly."""
        response = await client.get("/metrics", headers={"Accept": OPENMETRICS})
        assert response.content_type == "application/openmetrics-text"
        assert await response.read() == openmetrics_latest(big)

    async def test_gzip_is_negotiated(self, client, big):
        """A client accepting gzip gets the same exposition, gzip-encoded."""
        response = await client.get(
            "/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        )
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(await response.read()) == generate_latest(big)

    async def test_name_filter_is_honoured(self, client, big):
        """name[] restricts the exposition as prometheus-client's handler does."""
        response = await client.get("/metrics", params=[("name[]", "bot_gateway_events_total")])
        assert await response.read() == generate_latest(
            big.restricted_registry(["bot_gateway_events_total"])
        )

    async def test_promtool_finds_nothing_to_report(self, client, tool):
        """`promtool check metrics` prints nothing about the served exposition."""
        body = await (await client.get("/metrics")).read()
        result = await asyncio.to_thread(
            subprocess.run,
            [tool("promtool"), "check", "metrics"],
            input=body,
            capture_output=True,
            check=False,
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


class TestLoopStaysResponsive:
    async def test_other_tasks_run_between_slices(self, big):
        """While a big family renders, other tasks get turns (one per slice with no budget)."""
        turns = 0

        async def other() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        await asyncio.sleep(0)
        before = turns
        await render(big, generate_latest, budget=0)
        task.cancel()
        samples = sum(len(m.samples) for m in big.collect())
        assert turns - before >= samples // SLICE

    async def test_values_changed_during_a_scrape_are_read_then(self, registry):
        """A sample changed while a scrape is in flight is rendered with its value at read time."""
        m = Metrics(registry=registry, label_limit=5_000, default_collectors=False)
        for i in range(5 * SLICE):
            m.events.labels(f"e{i}")
        last = m.events.labels(f"e{5 * SLICE - 1}")

        async def bump() -> None:
            await asyncio.sleep(0)
            last.inc(7)

        task = asyncio.create_task(bump())
        body = await render(registry, generate_latest, budget=0)
        await task
        assert f'bot_gateway_events_total{{event="e{5 * SLICE - 1}"}} 7.0'.encode() in body
