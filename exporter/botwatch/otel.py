"""Optional OpenTelemetry traces: a span per command and per tracked operation, sent by OTLP/HTTP.

On only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and the ``botwatch[otel]`` extra is installed.
Otherwise nothing of OpenTelemetry is imported (this module imports it inside :func:`init`) and
the command hook keeps the cost it has without the feature (a benchmark row checks this).

The SDK reads its own settings from the environment as usual (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_TRACES_SAMPLER``, ...); the spans' ``service.name`` is
botwatch's ``service``, the same name the metrics and log lines carry, so a trace, its logs and
its metrics meet on one label. botwatch uses its own tracer provider and leaves the global one
alone; spans are made current, so spans of the bot's own OpenTelemetry code nest under them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import logging as bw_logging
from .config import Settings

log = logging.getLogger("botwatch")

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"


class _CommandSpan:
    """The command's span, with what the command hook reads of Sentry's transaction:
    ``set_status(word)``, ``trace_id`` (32 hex digits) and ``sampled`` (for the exemplar)."""

    __slots__ = ("_error", "span")

    def __init__(self, span: Any, error: Any) -> None:
        self.span = span
        self._error = error

    def set_status(self, status: str) -> None:
        # OpenTelemetry's convention: a successful span's status stays unset; errors mark it.
        if status != "ok":
            self.span.set_status(self._error)

    @property
    def trace_id(self) -> str:
        return f"{self.span.get_span_context().trace_id:032x}"

    @property
    def sampled(self) -> bool:
        return self.span.get_span_context().trace_flags.sampled


class Tracing:
    """What botwatch needs from OpenTelemetry once it is set up."""

    def __init__(self, provider: Any, get_current_span: Any, error_status: Any) -> None:
        from . import __version__

        self._provider = provider
        self._tracer = provider.get_tracer("botwatch", __version__)
        self._get_current_span = get_current_span
        self._error = error_status

    @contextmanager
    def command(self, name: str, correlation_id: str) -> Iterator[_CommandSpan]:
        """A current ``discord.command`` span for one command (its exception recorded)."""
        attributes = {"botwatch.command": name, "botwatch.correlation_id": correlation_id}
        with self._tracer.start_as_current_span(name, attributes=attributes) as span:
            yield _CommandSpan(span, self._error)

    def span(self, name: str):
        """A current child span for a tracked operation (a context manager)."""
        return self._tracer.start_as_current_span(name, attributes={"botwatch.operation": name})

    def trace_id(self) -> str | None:
        """The current span's trace id (32 hex digits) when it is sampled, else None."""
        context = self._get_current_span().get_span_context()
        if not context.trace_flags.sampled:
            return None
        return f"{context.trace_id:032x}"

    def shutdown(self) -> None:
        """Send the spans still queued and stop (blocking: run it in a thread)."""
        self._provider.shutdown()


def init(settings: Settings) -> Tracing | None:
    """Set up the tracer provider when an OTLP endpoint is configured and the SDK installed."""
    if not os.environ.get(ENDPOINT_VARIABLE, "").strip():
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import StatusCode, get_current_span
    except ImportError:
        log.warning(
            "%s is set but the OpenTelemetry SDK is not installed (pip install 'botwatch[otel]')",
            ENDPOINT_VARIABLE,
        )
        return None
    resource = Resource.create({"service.name": settings.service})
    # shutdown_on_exit=False: Observability.close() shuts it down, off the event loop.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    # The exporter reads the endpoint (adding /v1/traces), headers and timeout from the environment.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracing = Tracing(provider, get_current_span, StatusCode.ERROR)
    # Log lines carry the OpenTelemetry trace id (rather than Sentry's) when both are on: the
    # trace_id links of logs and exemplars open Tempo.
    bw_logging.trace_id_source = tracing.trace_id
    return tracing
