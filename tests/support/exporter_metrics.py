"""Every series name the botwatch library can expose, read from its real registry.

Used by the "no dangling metric names" checks of rules (tests/config/prometheus) and dashboards
(tests/config/grafana). The names come from a fresh `botwatch.metrics.Metrics` on its own
registry, default collectors (process_*, python_gc_*, python_info) included, so a metric renamed
or removed in the library fails those checks instead of leaving a rule or panel without data.
Families are expanded to the series names Prometheus stores (counters get _total and _created,
histograms _bucket/_count/_sum/_created), because families without bound children expose no
samples to read the names from.
"""

from __future__ import annotations

from functools import cache

from botwatch.metrics import Metrics
from prometheus_client import CollectorRegistry

__all__ = ["exporter_metric_names"]

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


@cache
def exporter_metric_names() -> frozenset[str]:
    """Series names of the library's metrics with the default `bot_` namespace."""
    registry = CollectorRegistry()
    Metrics(registry=registry)
    names: set[str] = set()
    for family in registry.collect():
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return frozenset(names)
