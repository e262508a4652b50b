"""Every metric of docs/metrics.md, created on one registry with one namespace."""

from __future__ import annotations

import platform
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.samples import Exemplar

from .cardinality import Family, overflow_counter

# Bot commands: most answer in tens of milliseconds; Discord wants an interaction
# acknowledged within 3 s, and slow commands (searches, APIs) run up to tens of seconds.
COMMAND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Discord REST calls, including the time spent waiting out a rate limit.
REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Event-loop lag: a healthy loop stays under a few ms; 100 ms is already visible to users.
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Background loops: from quick cache refreshes to minute-long syncs.
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)

COMMAND_STATUSES = ("success", "user_error", "error", "cancelled")
OPERATION_STATUSES = ("success", "error")
COMPONENTS = ("commands", "gateway", "http", "server", "logging", "sentry", "tasks", "loop_lag")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


# Prometheus keeps a bucket's newest exemplar per scrape (every 10 s here): one per bucket
# a second is all a panel can show, and costs the hot path one comparison per command.
EXEMPLAR_INTERVAL = 1.0


def exemplar_labels(correlation_id: str, trace_id: str | None) -> dict[str, str]:
    """A duration's exemplar labels: its correlation id, and its trace id when it was traced.

    At most 14+16+8+32 = 70 characters, within prometheus-client's 128.
    """
    labels = {"correlation_id": correlation_id}
    if trace_id:
        labels["trace_id"] = trace_id
    return labels


def exemplar(correlation_id: str, trace_id: str | None, value: float) -> Exemplar:
    """The exemplar of a duration observed now (see :func:`exemplar_labels`)."""
    return Exemplar(exemplar_labels(correlation_id, trace_id), value, time.time())


def command_cells(counter_child: Any, histogram_child: Any) -> tuple[Any, Any, list, list, list]:
    """The value cells one finished command is written to.

    ``(count, sum, buckets, bounds, marked)``; ``marked[i]``: when bucket ``i`` last got
    an exemplar (``perf_counter()``).

    The hot path writes these directly (:func:`record`): the same cells, locks and bucket
    choice as ``counter.inc()`` and ``histogram.observe()``, without those methods' checks
    (the children are bound, the amounts are non-negative) and their Python loop over the
    buckets. prometheus-client is pinned; a test compares the exposition with the public
    methods' (tests/unit/exporter/test_metrics.py).
    """
    buckets = histogram_child._buckets
    return (
        counter_child._value,
        histogram_child._sum,
        buckets,
        histogram_child._upper_bounds,
        [-EXEMPLAR_INTERVAL] * len(buckets),
    )


def record(cells: tuple, duration: float) -> None:
    """Count one command and observe its duration (see :func:`command_cells`)."""
    count, total, buckets, bounds, _ = cells
    count.inc(1)
    total.inc(duration)
    # observe() takes the first bucket whose bound is >= the amount; so does bisect_left.
    buckets[bisect_left(bounds, duration)].inc(1)


def _series_per_child(kind, labelnames: tuple[str, ...], **kw) -> int:
    """Series one child of this kind exposes: a histogram's buckets, ``_count`` and ``_sum``,
    and ``_created`` where prometheus-client publishes it. Counted once, on a throwaway metric
    outside any registry, so the count follows the client's exposition instead of a formula."""
    probe = kind("probe", "probe", labelnames, registry=None, **kw)
    probe.labels(*("x",) * len(labelnames))
    return sum(len(family.samples) for family in probe.collect())


def _add_default_collectors(registry: CollectorRegistry) -> None:
    """Give an injected registry the process, GC and platform collectors REGISTRY has."""
    if registry is REGISTRY:
        return
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)


class Metrics:
    """The library's metrics. Children for known label values are bound at creation."""

    def __init__(
        self,
        *,
        namespace: str = "bot",
        registry: CollectorRegistry | None = None,
        label_limit: int = 200,
        default_collectors: bool = True,
    ) -> None:
        self.registry = registry = REGISTRY if registry is None else registry
        ns = namespace
        if default_collectors:
            _add_default_collectors(registry)
        self.overflow = overflow_counter(ns, registry)
        self._per_overflow = _series_per_child(type(self.overflow), ("metric", "label"))
        self._families: list[tuple[Family, int]] = []
        self._plain = 0

        def family(kind, name, doc, labels, **kw) -> Family:
            metric = kind(f"{ns}_{name}", doc, labels, registry=registry, **kw)
            fam = Family(metric, f"{ns}_{name}", labels, label_limit, self.overflow)
            self._families.append((fam, _series_per_child(kind, labels, **kw)))
            return fam

        def plain(kind, name, doc, **kw):
            metric = kind(f"{ns}_{name}", doc, registry=registry, **kw)
            # A plain metric's series never change: count them once, as exposed.
            self._plain += sum(len(family.samples) for family in metric.collect())
            return metric

        self.commands = family(
            Counter, "commands", "Commands finished, by command and status.", ("command", "status")
        )
        self.command_duration = family(
            Histogram,
            "command_duration_seconds",
            "Wall time of a command, from invocation to completion.",
            ("command",),
            buckets=COMMAND_BUCKETS,
        )
        self.command_errors = family(
            Counter,
            "command_errors",
            "Commands that ended in status=error, by exception class.",
            ("command", "error_type"),
        )
        self.events = family(
            Counter, "gateway_events", "Gateway events dispatched, by event name.", ("event",)
        )
        self.gateway_latency = family(
            Gauge, "gateway_latency_seconds", "Last heartbeat latency per shard.", ("shard",)
        )
        self.gateway_connected = family(
            Gauge,
            "gateway_connected",
            "1 while the shard's gateway session is connected.",
            ("shard",),
        )
        self.gateway_disconnects = family(
            Counter, "gateway_disconnects", "Gateway disconnects.", ("shard",)
        )
        self.gateway_resumes = family(
            Counter, "gateway_resumes", "Gateway sessions resumed after a disconnect.", ("shard",)
        )
        self.guilds = plain(Gauge, "guilds", "Guilds the bot is in.")
        self.ready = plain(
            Gauge, "ready", "1 when /health/ready answers 200 (gateway and every check passing)."
        )
        self.stopping = plain(
            Gauge,
            "stopping",
            "1 from the start of a clean shutdown (close()) until the process exits.",
        )
        self.loop_lag = plain(
            Histogram,
            "event_loop_lag_seconds",
            "Delay of the asyncio event loop, sampled by a background task.",
            buckets=LOOP_LAG_BUCKETS,
        )
        self.log_records = family(
            Counter, "log_records", "Log records emitted, by level.", ("level",)
        )
        self.build_info = family(
            Gauge,
            "build_info",
            "Build information.",
            ("version", "revision", "python", "discord_py"),
        )
        self.operations = family(
            Counter,
            "operations",
            "Tracked operations, by operation and status.",
            ("operation", "status"),
        )
        self.operation_duration = family(
            Histogram,
            "operation_duration_seconds",
            "Duration of tracked operations.",
            ("operation",),
            buckets=COMMAND_BUCKETS,
        )
        self.requests = family(
            Counter,
            "discord_requests",
            "Discord REST responses by method, route template and HTTP status.",
            ("method", "route", "status"),
        )
        self.request_duration = family(
            Histogram,
            "discord_request_duration_seconds",
            "Duration of Discord REST calls, rate-limit waits and retries included.",
            ("method", "route"),
            buckets=REQUEST_BUCKETS,
        )
        self.rate_limits = family(
            Counter,
            "discord_rate_limits",
            "Discord 429 answers by method, route template and scope.",
            ("method", "route", "scope"),
        )
        self.task_last_success = family(
            Gauge,
            "task_last_success_timestamp_seconds",
            "Unix time of a background loop's last successful iteration.",
            ("task",),
        )
        self.task_interval = family(
            Gauge, "task_interval_seconds", "The background loop's configured period.", ("task",)
        )
        self.task_duration = family(
            Histogram,
            "task_duration_seconds",
            "Duration of one background loop iteration.",
            ("task",),
            buckets=TASK_BUCKETS,
        )
        self.task_failures = family(
            Counter, "task_failures", "Background loop iterations that raised.", ("task",)
        )
        self.series = plain(Gauge, "exporter_series", "Live series in the library's own metrics.")
        self.series.set_function(self.count_series)
        plain(Gauge, "exporter_label_limit", "The per-label cap on distinct values.").set(
            label_limit
        )
        self.errors = family(
            Counter,
            "exporter_errors",
            "Exceptions caught inside the library's hooks, by component.",
            ("component",),
        )
        for component in COMPONENTS:
            self.errors.labels(component)
        for level in LOG_LEVELS:
            self.log_records.labels(level)

    def count_series(self) -> float:
        """Series exposed by the library's own metrics (cheap: no collection involved)."""
        labelled = sum(
            fam.size * per_child + fam.overflowed * self._per_overflow
            for fam, per_child in self._families
        )
        return float(labelled + self._plain)

    def bind_command(self, name: str) -> None:
        """Create a command's series up front, so ``rate()`` starts from zero."""
        for status in COMMAND_STATUSES:
            self.commands.labels(name, status)
        self.command_duration.labels(name)

    def set_build_info(self, *, version: str, revision: str, discord_py: str) -> None:
        """Publish ``build_info`` once."""
        self.build_info.labels(version, revision, platform.python_version(), discord_py).set(1)

    @staticmethod
    def set_safe_function(gauge, fn: Callable[[], float], on_error: Callable[[Exception], None]):
        """``gauge.set_function`` that never breaks a scrape: an error keeps the last value."""
        last = [0.0]

        def safe() -> float:
            try:
                last[0] = float(fn())
            except Exception as exc:
                on_error(exc)
            return last[0]

        gauge.set_function(safe)
