"""The HTTP endpoints, served by aiohttp inside the bot's own event loop (no thread)."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from prometheus_client import CollectorRegistry

from . import scrape
from .errors import ErrorReporter
from .health import Health

log = logging.getLogger("botwatch")


class Scrapes:
    """When ``/metrics`` was served, so that a clean shutdown can wait for one more scrape."""

    def __init__(self) -> None:
        self._last: float | None = None
        self._interval: float | None = None
        self._waiters: set[asyncio.Event] = set()

    def served(self) -> None:
        """Note one scrape and wake whoever waits for it."""
        now = time.monotonic()
        if self._last is not None:
            self._interval = now - self._last
        self._last = now
        for waiter in self._waiters:
            waiter.set()

    async def next(self, limit: float) -> bool:
        """Wait for the next scrape, at most 1.5 scrape intervals and ``limit`` seconds.

        False at once when nobody has scraped twice yet (no interval to go by), or when the
        scrape did not come in time.
        """
        if self._interval is None:
            return False
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            async with asyncio.timeout(min(limit, 1.5 * self._interval)):
                await waiter.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.discard(waiter)


def add_routes(
    app: web.Application, *, registry: CollectorRegistry, health: Health, lag, scrapes: Scrapes
) -> None:
    """Mount ``/metrics`` and ``/health/{live,ready,status}`` on an aiohttp application.

    ``/metrics`` renders in slices that yield to the loop (:mod:`botwatch.scrape`), with
    prometheus-client's content negotiation (OpenMetrics) and aiohttp's compression; each
    answer is noted in ``scrapes``.
    """
    exposition = scrape.make_handler(registry)

    async def metrics(request: web.Request) -> web.StreamResponse:
        response = await exposition(request)
        scrapes.served()
        return response

    async def live(_: web.Request) -> web.Response:
        # Answering at all proves the loop is turning; the last lag sample says how well.
        return web.json_response({"status": "ok", "loop_lag_seconds": lag.last})

    async def ready(_: web.Request) -> web.Response:
        ok = await health.evaluate()
        return web.json_response(
            {"status": "ok" if ok else "unavailable"}, status=200 if ok else 503
        )

    async def status(_: web.Request) -> web.Response:
        ok = await health.evaluate()
        body = {"status": "ok" if ok else "unavailable", "time": time.time()}
        return web.json_response(body | {"checks": health.status()})

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/health/status", status)


class Server:
    """An aiohttp ``AppRunner``/``TCPSite`` pair you can ``await start()`` and ``close()``.

    A port already in use is logged once and counted; the bot runs on without endpoints.
    """

    def __init__(self, app: web.Application, *, host: str, port: int, errors: ErrorReporter):
        self.app = app
        self.host = host
        self.port = port
        self._errors = errors
        self._runner: web.AppRunner | None = None

    async def start(self) -> bool:
        """Bind and serve; False (logged and counted, never raised) if that failed."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            self._errors.count("server")
            log.error(
                "botwatch cannot serve on %s:%s (%s); the bot keeps running without "
                "/metrics and /health",
                self.host,
                self.port,
                exc.strerror or exc,
            )
            return False
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("botwatch serving /metrics and /health on %s:%s", self.host, self.port)
        return True

    async def close(self) -> None:
        """Stop accepting connections and finish in-flight requests."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
