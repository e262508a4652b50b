"""Memory measurements, each in a fresh process (run by tests/bench/test_memory.py).

    python -m tests.bench.memory_probe setup           RSS around botwatch setup()+instrument()
    python -m tests.bench.memory_probe series botwatch N   RSS before/after N live series (ours)
    python -m tests.bench.memory_probe series client N     the same series, bare prometheus-client
    python -m tests.bench.memory_probe soak SECONDS    RSS each second at 1,000 commands/s, names
                                                       past the cardinality cap
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
from pathlib import Path
from types import SimpleNamespace


def rss() -> int:
    """This process's resident set size now, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _settled_rss() -> int:
    gc.collect()
    return rss()


def _bot():
    import discord
    from discord.ext import commands

    return commands.Bot(command_prefix="!", intents=discord.Intents.none())


def setup_cost() -> dict:
    """A bot that already imported discord.py, then botwatch (import included) set up on it."""
    bot = _bot()
    before = _settled_rss()
    import botwatch
    from prometheus_client import CollectorRegistry

    obs = botwatch.setup(
        service="bench", registry=CollectorRegistry(), port=0, configure_logging=False
    )
    obs.instrument(bot)
    return {"before": before, "after": _settled_rss()}


def series_cost(kind: str, series: int) -> dict:
    """RSS for ``series`` live command series, bound through botwatch or bare prometheus-client."""
    from botwatch.metrics import COMMAND_BUCKETS, COMMAND_STATUSES, Metrics
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    metrics = Metrics(registry=registry, label_limit=10 * series, default_collectors=False)
    counter = Counter("c", "c", ("command", "status"), registry=registry)
    histogram = Histogram("h", "h", ("command",), buckets=COMMAND_BUCKETS, registry=registry)
    per_command = len(COMMAND_STATUSES) + len(COMMAND_BUCKETS) + 3  # counters + histogram
    names = [f"command_{i}" for i in range(series // per_command)]
    before = _settled_rss()
    for name in names:
        if kind == "botwatch":
            metrics.bind_command(name)
        else:
            for status in COMMAND_STATUSES:
                counter.labels(name, status)
            histogram.labels(name)
    return {"before": before, "after": _settled_rss(), "series": len(names) * per_command}


async def _soak(seconds: float) -> list[int]:
    import botwatch
    from discord.ext import commands
    from prometheus_client import CollectorRegistry

    obs = botwatch.setup(
        service="bench", registry=CollectorRegistry(), port=0, configure_logging=False
    )
    bot = _bot()

    async def body(ctx) -> None:
        if ctx.fail:
            raise commands.CommandInvokeError(ValueError("boom"))

    bot.invoke = body  # discord.py's own work stands aside: the hook and guard are measured
    obs.instrument(bot)
    samples, i = [], 0
    loop = asyncio.get_running_loop()
    started = loop.time()
    while (now := loop.time()) < started + seconds:
        due = int((now - started) * 1000)
        while i < due:
            # Every command a new name: past the cap (200) they all collapse into "other".
            ctx = SimpleNamespace(command=commands.Command(body, name=f"c{i}"), fail=i % 7 == 0)
            ctx.command_failed = False
            with contextlib.suppress(commands.CommandInvokeError):
                await bot.invoke(ctx)
            i += 1
        if len(samples) < int(now - started) + 1:
            samples.append(rss())
        await asyncio.sleep(0.01)
    assert obs.metrics.count_series() < 5_000, "the cap holds"
    return samples


def main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "setup":
        result = setup_cost()
    elif kind == "series":
        result = series_cost(argv[1], int(argv[2]))
    else:
        result = {"rss": asyncio.run(_soak(float(argv[1])))}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
