"""Tests of botwatch.cardinality: the per-label cap and its `other` bucket."""

from __future__ import annotations

from botwatch.cardinality import OTHER, Family, overflow_counter
from prometheus_client import Counter


def _family(registry, limit: int = 3) -> Family:
    metric = Counter("t_things", "Things.", ("kind", "status"), registry=registry)
    return Family(metric, "t_things", ("kind", "status"), limit, overflow_counter("t", registry))


class TestCap:
    def test_values_past_the_cap_collapse_into_other(self, registry, value):
        """The fourth distinct value of a label capped at three is recorded as `other`."""
        things = _family(registry)
        for kind in ("a", "b", "c", "d", "e"):
            things.labels(kind, "ok").inc()
        assert value("t_things_total", kind="c", status="ok") == 1
        assert value("t_things_total", kind=OTHER, status="ok") == 2
        assert value("t_things_total", kind="d", status="ok") == 0

    def test_each_collapse_is_counted_by_metric_and_label(self, registry, value):
        """Every call that collapses a value increments overflow{metric, label}."""
        things = _family(registry, limit=1)
        things.labels("a", "ok").inc()
        for _ in range(4):
            things.labels("b", "ok").inc()
        overflow = value("t_exporter_label_overflow_total", metric="t_things", label="kind")
        assert overflow == 4

    def test_admitted_values_stay_admitted(self, registry, value):
        """A value seen before the cap was reached keeps its own series afterwards."""
        things = _family(registry, limit=2)
        for kind in ("a", "b", "c", "a"):
            things.labels(kind, "ok").inc()
        assert value("t_things_total", kind="a", status="ok") == 2

    def test_labels_are_capped_independently(self, registry, value):
        """Filling one label's cap leaves the other label's values untouched."""
        things = _family(registry, limit=2)
        for kind in ("a", "b", "c"):
            things.labels(kind, "ok").inc()
        things.labels("a", "error").inc()
        assert value("t_things_total", kind="a", status="error") == 1


class TestBinding:
    def test_repeated_labels_return_the_same_child(self, registry):
        """The hot path returns the cached child instead of asking prometheus-client again."""
        things = _family(registry)
        assert things.labels("a", "ok") is things.labels("a", "ok")

    def test_size_counts_bound_label_sets(self, registry):
        """`size` is the number of distinct label sets bound, `other` included once."""
        things = _family(registry, limit=1)
        for kind in ("a", "b", "c"):
            things.labels(kind, "ok")
        assert (things.size, things.overflowed) == (2, 1)
