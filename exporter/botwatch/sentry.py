"""Sentry: init from settings, command transactions, spans, and event ids on log lines.

sentry-sdk's own logging integration would capture error records *after* every handler
ran, too late to put the event id on the JSON line. So its event capture is switched
off (breadcrumbs stay) and :class:`SentryBridge` captures error records from the
botwatch log handler, before the line is written; ``before_send`` copies the event id
onto the record and tags the event with the correlation id and command.

Every event and breadcrumb passes through botwatch.scrub first (credentials and chat content
removed), and no frame's local variables are sent: a command's arguments are what a user typed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from . import context, scrub
from . import logging as bw_logging
from .config import Settings

try:
    import sentry_sdk
    from sentry_sdk.integrations.logging import EventHandler, LoggingIntegration
except ImportError:  # the [sentry] extra is not installed
    sentry_sdk = None

# botwatch's own endpoints: scraped every few seconds, never worth a transaction.
_QUIET_PATHS = ("/metrics", "/health/")


class SentryBridge:
    """What the rest of botwatch needs from Sentry once it is initialised."""

    def __init__(self, traces_sample_rate: float) -> None:
        self._rate = traces_sample_rate
        self._events = EventHandler(level=logging.ERROR)

    # -- init hooks ---------------------------------------------------------------------
    def before_send(self, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        """Scrub the event, tag it with the current context, write its id onto the log record."""
        event = scrub.scrub_event(event, _user_texts(hint))
        tags = event.setdefault("tags", {})
        cid, cmd = context.current_ids()
        if cid is not None:
            tags.setdefault("correlation_id", cid)
            if cmd is not None:
                tags.setdefault("command", cmd)
        record = hint.get("log_record")
        if record is not None:
            record.sentry_event_id = event.get("event_id")
        return event

    @staticmethod
    def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        """A breadcrumb (a log record, an HTTP call) scrubbed like an event."""
        return scrub.scrub_event(crumb, _user_texts(hint))

    def traces_sampler(self, sampling_context: dict[str, Any]) -> float:
        """Sample at the configured rate, except scrapes and health probes (never)."""
        request = sampling_context.get("aiohttp_request")
        if request is not None and request.path.startswith(_QUIET_PATHS):
            return 0.0
        parent = sampling_context.get("parent_sampled")
        return self._rate if parent is None else float(parent)

    # -- used by logging, commands and track -----------------------------------------------
    def capture_log(self, record: logging.LogRecord) -> None:
        """Send an error record as an event; ``before_send`` sets ``sentry_event_id``."""
        self._events.handle(record)

    @staticmethod
    def trace_id() -> str | None:
        """The trace id of the current transaction, if any."""
        span = sentry_sdk.get_current_span()
        return None if span is None else span.trace_id

    @staticmethod
    def sampled_trace_id() -> str | None:
        """The trace id of the current span if Sentry keeps it (sampled), else None."""
        span = sentry_sdk.get_current_span()
        return span.trace_id if span is not None and span.sampled else None

    @contextlib.contextmanager
    def command(self, name: str, correlation_id: str) -> Iterator[Any]:
        """An isolated scope tagged with the command, in a ``discord.command`` transaction."""
        with sentry_sdk.isolation_scope() as scope:
            scope.set_tag("command", name)
            scope.set_tag("correlation_id", correlation_id)
            with sentry_sdk.start_transaction(op="discord.command", name=name) as transaction:
                yield transaction

    @staticmethod
    def span(name: str):
        """A child span of the current transaction for a tracked operation."""
        return sentry_sdk.start_span(op="botwatch.track", name=name)

    @staticmethod
    def flush(timeout: float) -> None:
        """Send what is queued, waiting at most ``timeout`` seconds (blocking: run in a thread)."""
        sentry_sdk.flush(timeout=timeout)


def _user_texts(hint: dict[str, Any] | None) -> list[str]:
    """User-typed exception texts behind an event or breadcrumb (its exception, its record)."""
    if not hint:
        return []
    record = hint.get("log_record")
    if record is not None:
        return scrub.record_texts(record)
    exc_info = hint.get("exc_info")
    return scrub.user_texts(exc_info[1]) if exc_info else []


def init(settings: Settings) -> SentryBridge | None:
    """Initialise sentry-sdk when a DSN is configured and the SDK is installed."""
    if not settings.sentry_dsn:
        return None
    if sentry_sdk is None:
        logging.getLogger("botwatch").warning(
            "SENTRY_DSN is set but sentry-sdk is not installed (pip install 'botwatch[sentry]')"
        )
        return None
    bridge = SentryBridge(settings.sentry_traces_sample_rate)
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=settings.version,
        # No PII: send_default_pii stays at its default (off). Recent sentry-sdk releases
        # deprecate passing it at all, in favour of data_collection, which 2.0 lacks.
        traces_sampler=bridge.traces_sampler,
        before_send=bridge.before_send,
        before_breadcrumb=bridge.before_breadcrumb,
        # A frame's locals hold the command's arguments (user text) and maybe credentials;
        # request bodies likewise.
        include_local_variables=False,
        max_request_body_size="never",
        integrations=[LoggingIntegration(level=logging.INFO, event_level=None)],
        # Never hold up shutdown for long on an unreachable Sentry.
        shutdown_timeout=2,
    )
    bw_logging.trace_id_source = bridge.trace_id
    return bridge
