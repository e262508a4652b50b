"""``/metrics`` that never stalls the bot: prometheus-client's encoders, run in ~0.25 ms slices.

prometheus-client's own handler renders the whole exposition in one synchronous call: at
10,000 series the event loop — heartbeats, interactions, every command — waits 100 ms or
more per scrape (a thread does not help: the render holds the GIL). This handler runs the
same collection and the same encoders, one metric family at a time and a big family a
slice of its samples at a time, and hands the loop back whenever ~0.25 ms of work is done.

**Exactness.** The body is what ``generate_latest`` (or the OpenMetrics encoder) returns
for the registry at the moment of the scrape: byte for byte on a registry nobody changes
meanwhile (the tests compare them), and while commands keep running every sample is read
during the scrape itself — between the request's arrival and the response, never cached
— just as any exporter that collects while the process runs. Content negotiation
(OpenMetrics, escaping, ``name[]``) is prometheus-client's, and gzip/deflate is aiohttp's,
compressed in a thread for large bodies (zlib releases the GIL).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Iterable
from time import perf_counter
from typing import Any

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

# Work done between two turns given back to the loop (a slice may overrun it a little).
BUDGET_SECONDS = 0.00025
# Samples per encoder call, and collected between two looks at the clock.
SLICE = 10
# Bodies larger than this are compressed in a thread.
COMPRESS_IN_THREAD_BYTES = 64 * 1024
_EOF = b"# EOF\n"
# The text format moves these OpenMetrics samples into gauges after the family's own
# samples, in this (sorted) order; prometheus_client.exposition.generate_latest.
_TEXT_TRAILERS = ("_created", "_gcount", "_gsum")


class _One:
    """A collector of one ready metric, to hand a slice to an encoder."""

    __slots__ = ("metric",)

    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> list[Metric]:
        return [self.metric]


def _like(metric: Metric, samples: list[Any]) -> Metric:
    """A copy of ``metric``'s header with ``samples``."""
    like = copy.copy(metric)
    like.samples = samples
    return like


class _Slicer:
    """Hands the loop back once ``budget`` seconds of work are done."""

    __slots__ = ("_budget", "_until")

    def __init__(self, budget: float) -> None:
        self._budget = budget
        self._until = perf_counter() + budget

    async def tick(self) -> None:
        if perf_counter() >= self._until:
            await asyncio.sleep(0)
            self._until = perf_counter() + self._budget


async def _collect(collector: Any, slicer: _Slicer) -> AsyncIterator[Metric]:
    """``collector.collect()``'s metrics, with the loop handed back inside big families."""
    if not isinstance(collector, CollectorRegistry):
        for metric in collector.collect():  # a restricted registry (``name[]``)
            yield metric
            await slicer.tick()
        return
    # CollectorRegistry.collect(), unrolled so that each collector is reached on its own.
    with collector._lock:
        collectors = list(collector._collector_to_names)
        target_info = collector._target_info_metric() if collector._target_info else None
    if target_info is not None:
        yield target_info
    for c in collectors:
        if isinstance(c, MetricWrapperBase):
            # MetricWrapperBase.collect(), sample by sample.
            metric = c._get_metric()
            for i, (suffix, labels, value, ts, exemplar, native) in enumerate(c._samples()):
                metric.add_sample(c._name + suffix, labels, value, ts, exemplar, native)
                if i % SLICE == SLICE - 1:
                    await slicer.tick()
            yield metric
        else:
            for metric in c.collect():
                yield metric
        await slicer.tick()


def _groups(metric: Metric, text: bool) -> list[list[Any]]:
    """The family's samples in the order its encoding lists them."""
    if not text:
        return [metric.samples]
    trailers = {metric.name + suffix: [] for suffix in _TEXT_TRAILERS}
    own = []
    for sample in metric.samples:
        trailers.get(sample.name, own).append(sample)
    return [own, *(group for group in trailers.values() if group)]


async def _encode(
    metric: Metric, encode: Callable[[Any], bytes], text: bool, slicer: _Slicer
) -> AsyncIterator[bytes]:
    """``encode`` of one family, a slice of samples per call; the pieces join to the whole."""
    if len(metric.samples) <= SLICE:
        yield encode(_One(metric))
        return
    header = encode(_One(_like(metric, [])))  # HELP, TYPE (and UNIT) lines
    yield header
    for index, group in enumerate(_groups(metric, text)):
        for start in range(0, len(group), SLICE):
            body = encode(_One(_like(metric, group[start : start + SLICE])))[len(header) :]
            if index and start:
                # A trailer's gauge header (HELP and TYPE) comes with its first slice only.
                body = body.split(b"\n", 2)[2]
            yield body
            await slicer.tick()


async def render(
    collector: Any,
    encode: Callable[[Any], bytes],
    *,
    openmetrics: bool = False,
    budget: float = BUDGET_SECONDS,
) -> bytes:
    """``encode(collector)``, computed in slices that yield to the loop every ``budget`` s.

    ``openmetrics``: ``encode`` is the OpenMetrics encoder, which ends each call with
    ``# EOF`` (kept once, at the end).
    """
    if openmetrics:
        whole = encode

        def encode(c: Any) -> bytes:
            return whole(c)[: -len(_EOF)]

    slicer = _Slicer(budget)
    parts: list[bytes] = []
    async for metric in _collect(collector, slicer):
        async for piece in _encode(metric, encode, not openmetrics, slicer):
            parts.append(piece)
    if openmetrics:
        parts.append(_EOF)
    return b"".join(parts)


def make_handler(registry: CollectorRegistry) -> Callable[[web.Request], Any]:
    """An aiohttp handler for ``/metrics``, negotiating like prometheus-client's own."""

    async def metrics(request: web.Request) -> web.Response:
        encode, content_type = choose_encoder(",".join(request.headers.getall(hdrs.ACCEPT, [])))
        names: Iterable[str] = request.query.getall("name[]", [])
        collector = registry.restricted_registry(names) if names else registry
        openmetrics = content_type.startswith("application/openmetrics-text")
        body = await render(collector, encode, openmetrics=openmetrics)
        response = web.Response(
            body=body,
            headers={hdrs.CONTENT_TYPE: content_type},
            zlib_executor_size=COMPRESS_IN_THREAD_BYTES,
        )
        response.enable_compression()
        return response

    return metrics
