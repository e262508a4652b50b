"""Benchmark: how long a scrape stalls the bot's event loop, and how long it takes (issue 11).

For each scrape, the loop's worst stall while that scrape is in flight: a probe task takes
every turn the loop gives it and records, between two of its turns, the CPU time the
loop's thread spent elsewhere (on these shared 2-core machines, wall-clock gaps mostly
measure the other tenants: the process is descheduled for tens of ms even when idle);
the median over the scrapes. botwatch's
``/metrics`` handler and prometheus-client's own aiohttp handler render the same registry
(a command histogram family of 1,000 or 10,000 series) for the same request as Prometheus
sends it, interleaved. Targets: stall ≤ 5 ms and ≤ 0.1× the handler's; a scrape's
latency within the bot job's scrape_timeout in prometheus/prometheus.yml.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import yaml
from aiohttp.test_utils import make_mocked_request
from botwatch.metrics import Metrics
from botwatch.scrape import make_handler
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler
from stackctl.checks import seconds

from tests.bench.bots import PROMETHEUS_ACCEPT, bind_series
from tests.conftest import REPO
from tests.support.bench import All, AtMost, Ratio, Row

SCRAPES = 31
THEIRS = "prometheus-client's aiohttp handler"


def _bot_scrape_timeout() -> float:
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "bot")
    return seconds(job.get("scrape_timeout", config["global"]["scrape_timeout"]))


async def _scrape(handler, request) -> tuple[float, float]:
    """(worst loop gap, latency) of one scrape through ``handler``."""
    done = False
    worst = 0.0

    async def probe() -> None:
        nonlocal worst
        while not done:
            t = time.thread_time()
            await asyncio.sleep(0)
            worst = max(worst, time.thread_time() - t)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0)
    started = time.perf_counter()
    await handler(request)
    latency = time.perf_counter() - started
    done = True
    await task
    return worst, latency


async def _compare(series: int) -> dict[str, list[tuple[float, float]]]:
    registry = CollectorRegistry()
    bind_series(Metrics(registry=registry, label_limit=100_000), series)
    request = make_mocked_request("GET", "/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
    handlers = {"ours": make_handler(registry), "theirs": make_aiohttp_handler(registry)}
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "theirs": []}
    for handler in handlers.values():
        await _scrape(handler, request)  # warm-up
    for _ in range(SCRAPES):
        for who, handler in handlers.items():
            runs[who].append(await _scrape(handler, request))
    return runs


def _median(runs: list[tuple[float, float]], index: int) -> float:
    return statistics.median(run[index] for run in runs)


def test_scrape_stall(bench):
    """A scrape stalls the loop ≤ 5 ms and ≤ 0.1× prometheus-client's handler; latency in time."""
    rows = []
    for series in (1_000, 10_000):
        runs = asyncio.run(_compare(series))
        ours, theirs = runs["ours"], runs["theirs"]
        label = f"{series // 1000}k series"
        rows.append(
            Row(
                f"scrape: worst loop stall, {label}",
                _median(ours, 0),
                _median(theirs, 0),
                THEIRS,
                "s",
                All((AtMost(0.005), Ratio(0.1))),
            )
        )
    timeout = _bot_scrape_timeout()
    rows.append(
        Row(
            f"scrape: latency, {label}",
            _median(ours, 1),
            _median(theirs, 1),
            THEIRS,
            "s",
            AtMost(timeout),
            note=f"the target is the bot job's scrape_timeout ({timeout:g} s)",
        )
    )
    bench.check(*rows)
