"""The cardinality guard: label values past a per-label cap collapse into ``other``."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

OTHER = "other"


class Family:
    """A labelled metric whose children are bound once and whose label values are capped.

    ``labels(*values)`` is the hot path: one dict lookup for any label set seen before.
    A new value is admitted while its label has fewer than ``limit`` distinct values; past
    that it becomes ``other`` and ``overflow{metric, label}`` is incremented, once per call.
    """

    __slots__ = (
        "_children",
        "_limit",
        "_overflow",
        "_overflowed",
        "_seen",
        "labelnames",
        "metric",
        "name",
    )

    def __init__(self, metric: Any, name: str, labelnames: tuple[str, ...], limit: int, overflow):
        self.metric = metric
        self.name = name
        self.labelnames = labelnames
        self._limit = limit
        self._overflow = overflow
        self._seen: list[set[str]] = [set() for _ in labelnames]
        self._children: dict[tuple[str, ...], Any] = {}
        self._overflowed: set[int] = set()

    def labels(self, *values: str) -> Any:
        """The child for these label values (``other`` past the cap)."""
        child = self._children.get(values)
        if child is None:
            child = self._bind(values)
        return child

    def _bind(self, values: tuple[str, ...]) -> Any:
        admitted = tuple(self._admit(i, str(value)) for i, value in enumerate(values))
        child = self._children.get(admitted)
        if child is None:
            child = self.metric.labels(*admitted)
            self._children[admitted] = child
        return child

    def _admit(self, index: int, value: str) -> str:
        seen = self._seen[index]
        if value in seen:
            return value
        if len(seen) < self._limit or value == OTHER:
            seen.add(value)
            return value
        self._overflow.labels(self.name, self.labelnames[index]).inc()
        self._overflowed.add(index)
        return OTHER

    def admits(self, values: tuple[str, ...]) -> bool:
        """True if every value has its own series (none was collapsed into ``other``)."""
        return all(value in seen for value, seen in zip(values, self._seen, strict=True))

    @property
    def size(self) -> int:
        """Number of label sets bound so far."""
        return len(self._children)

    @property
    def overflowed(self) -> int:
        """Number of this metric's labels that have overflowed (one overflow series each)."""
        return len(self._overflowed)


def overflow_counter(namespace: str, registry) -> Counter:
    """``<ns>_exporter_label_overflow_total{metric, label}``."""
    return Counter(
        f"{namespace}_exporter_label_overflow",
        "Label values collapsed into 'other' because the per-label cap was reached.",
        ("metric", "label"),
        registry=registry,
    )
