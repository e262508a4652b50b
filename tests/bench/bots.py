"""What the exporter benchmarks share: a dpytest bot under load, a lag probe, big registries."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import botwatch
import discord
import discord.ext.test as dpytest
from botwatch.metrics import Metrics
from discord.ext import commands
from prometheus_client import CollectorRegistry

# What Prometheus 3 sends when it scrapes (its default scrape_protocols), gzip included.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)
COMMANDS_PER_SECOND = 1_000


def bind_series(metrics: Metrics, series: int) -> None:
    """Bind commands (3 status counters and a histogram each) until ``series`` are live."""
    i = 0
    while (count := metrics.count_series()) < series:
        metrics.bind_command(f"command_{i}")
        metrics.command_duration.labels(f"command_{i}").observe(0.02)
        i += 1
        assert metrics.count_series() > count, "the label cap stopped the series from growing"


class _Ping(commands.Cog):
    @commands.command()
    async def ping(self, ctx: commands.Context) -> None:
        return None


async def dpytest_bot(cog: commands.Cog | None = None) -> commands.Bot:
    """A prefix `!` bot with ``cog`` (a `!ping` by default) that dpytest can drive."""
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True  # dpytest's members live in the member cache
    bot = commands.Bot(command_prefix="!", intents=intents, help_command=None)
    await bot._async_setup_hook()
    await bot.add_cog(_Ping() if cog is None else cog)
    return bot


def scraper(url: str, every: float = 1.0) -> subprocess.Popen:
    """Another process that scrapes ``url`` like Prometheus would, every ``every`` seconds."""
    code = (
        "import sys, time, urllib.request\n"
        "request = urllib.request.Request(sys.argv[1], headers={\n"
        f"    'Accept': {PROMETHEUS_ACCEPT!r}, 'Accept-Encoding': 'gzip'}})\n"
        "while True:\n"
        "    urllib.request.urlopen(request, timeout=10).read()\n"
        f"    time.sleep({every})\n"
    )
    return subprocess.Popen([sys.executable, "-c", code, url])


def message_create(bot: commands.Bot, content: str) -> Callable[[], None]:
    """Deliver a MESSAGE_CREATE with ``content`` to ``bot`` as the gateway would (dpytest's state).

    The payload is built once; each call goes through discord.py's real parsing and dispatch.
    """
    dpytest.configure(bot)
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[0]
    data = dpytest.backend.facts.make_message_dict(
        channel, member, content=content, guild_id=channel.guild.id
    )
    parse = dpytest.backend.get_state().parse_message_create
    return lambda: parse(data)


async def under_load(seconds: float, *, instrumented: bool, scraped: bool, series: int) -> float:
    """p99 loop lag (s) while a dpytest bot handles 1,000 `!ping`/s for ``seconds``.

    ``instrumented``: with botwatch (``series`` live series, served); ``scraped``: scraped
    every second meanwhile, by another process.
    """
    bot = await dpytest_bot()
    obs = None
    if instrumented:
        obs = botwatch.setup(
            service="bench",
            registry=CollectorRegistry(),
            port=0,
            configure_logging=False,
            label_limit=max(200, series),
        )
        obs.instrument(bot)
        bind_series(obs.metrics, series)
        await obs.start()
    gateway_message = message_create(bot, "!ping")
    scraping = scraper(f"http://127.0.0.1:{obs.port}/metrics") if scraped and obs else None
    try:
        lags = await _lags_while(seconds, gateway_message)
    finally:
        if scraping is not None:
            scraping.kill()
            scraping.wait()
        await dpytest.empty_queue()
        if obs is not None:
            await obs.close()
    lags.sort()
    return lags[int(len(lags) * 0.99)]


async def _lags_while(seconds: float, command: Callable[[], object]) -> list[float]:
    """Loop lags sampled every ms while ``command()`` runs 1,000 times a second.

    A sample is how late a 1 ms sleep wakes up, but at most the CPU time the loop's thread
    spent meanwhile: on a shared machine a process is descheduled for tens of ms at a time,
    which is lag no code in it caused; work done in the loop shows in both clocks.
    """
    loop = asyncio.get_running_loop()
    stop = loop.time() + seconds
    lags: list[float] = []

    async def probe() -> None:
        while loop.time() < stop:
            t, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.001)
            late = time.perf_counter() - t - 0.001
            lags.append(max(0.0, min(late, time.thread_time() - cpu)))

    async def produce() -> None:
        # One command per turn of the loop, as messages arrive from the gateway: a machine
        # that falls behind sends fewer, never a burst that would itself be the lag.
        sent = 0
        started = loop.time()
        while loop.time() < stop:
            if sent < (loop.time() - started) * COMMANDS_PER_SECOND:
                command()
                sent += 1
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(0.001)

    await asyncio.gather(probe(), produce())
    return lags
