"""``obs.track(name)``: time any operation, as a context manager or a decorator."""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

from . import context
from .errors import ErrorReporter
from .metrics import EXEMPLAR_INTERVAL, OPERATION_STATUSES, Metrics, exemplar_labels

F = TypeVar("F", bound=Callable[..., Any])


class Operations:
    """Records ``operations_total{operation,status}`` and ``operation_duration_seconds``."""

    def __init__(
        self,
        metrics: Metrics,
        errors: ErrorReporter,
        span_factory: Callable[[str], Any] | None = None,
        trace_id: Callable[[], str | None] | None = None,
    ) -> None:
        self._metrics = metrics
        self.errors = errors
        self.span_factory = span_factory
        self._trace_id = trace_id
        # Histogram child -> when it last got an exemplar (children are capped, so is this).
        self._marked: dict[Any, float] = {}

    def record(self, name: str, ok: bool, duration: float) -> None:
        """Count one finished operation (never raises); inside a scope, with an exemplar."""
        try:
            self._metrics.operations.labels(name, OPERATION_STATUSES[0 if ok else 1]).inc()
            child = self._metrics.operation_duration.labels(name)
            now = time.perf_counter()
            correlation_id, _ = context.current_ids()
            if correlation_id is None or now - self._marked.get(child, -1e9) < EXEMPLAR_INTERVAL:
                child.observe(duration)
                return
            self._marked[child] = now
            trace_id = None if self._trace_id is None else self._trace_id()
            child.observe(duration, exemplar_labels(correlation_id, trace_id))
        except Exception as exc:
            self.errors.report("commands", exc)

    def track(self, name: str) -> Tracked:
        """See :meth:`botwatch.Observability.track`."""
        return Tracked(self, name)


class Tracked:
    """One use of ``track(name)``: sync/async context manager, or decorator."""

    __slots__ = ("_name", "_ops", "_span", "_started")

    def __init__(self, ops: Operations, name: str) -> None:
        self._ops = ops
        self._name = name
        self._started = 0.0
        self._span: contextlib.AbstractContextManager[Any] | None = None

    def __enter__(self) -> Tracked:
        factory = self._ops.span_factory
        if factory is not None:
            try:
                span = factory(self._name)
                span.__enter__()
                self._span = span
            except Exception as exc:
                self._ops.errors.report("sentry", exc)
        self._started = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        duration = time.perf_counter() - self._started
        # Cancellation and interpreter exit are not failures of the operation itself.
        if exc_type is None or issubclass(exc_type, Exception):
            self._ops.record(self._name, exc_type is None, duration)
        if self._span is not None:
            with self._ops.errors.guard("sentry"):
                self._span.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Tracked:
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        ops, name = self._ops, self._name
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with Tracked(ops, name):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Tracked(ops, name):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
