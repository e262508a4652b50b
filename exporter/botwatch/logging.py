"""JSON logs per DESIGN §5: one object per line, correlation ids, levels counted.

Every record from any logger (discord.py's, aiohttp's, the bot's) passes through the
record factory installed here, so it carries the current ``correlation_id`` and
``command``; the handler counts it in ``log_records_total{level}``, hands errors to
Sentry first so the line can carry ``sentry_event_id``, and never lets a broken sink
raise into the caller.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from pythonjsonlogger.core import RESERVED_ATTRS, merge_record_extra

from . import context
from .cardinality import Family
from .errors import ErrorReporter

try:
    from pythonjsonlogger.orjson import OrjsonFormatter as _BaseFormatter
except ImportError:  # orjson has no wheel for this platform: same output, slower encoder
    from pythonjsonlogger.json import JsonFormatter as _BaseFormatter

__all__ = ["JsonFormatter", "LogHandler", "install_record_factory", "loguru_sink"]

LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}
# Attributes this module puts on records; the formatter places them itself.
CONTEXT_FIELDS = ("correlation_id", "command", "trace_id", "sentry_event_id")
_SKIP = frozenset(RESERVED_ATTRS) | set(CONTEXT_FIELDS) | {"message", "asctime"}

# Set by botwatch.sentry while a Sentry client is active: returns the current trace id.
trace_id_source: Callable[[], str | None] | None = None


def level_name(record: logging.LogRecord) -> str:
    """The lower-case level of a record (custom levels keep their own name)."""
    return LEVEL_NAMES.get(record.levelno) or record.levelname.lower()


class _Timestamps:
    """RFC 3339 UTC timestamps with milliseconds; the seconds part is formatted once a second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(_BaseFormatter):
    """Formats a record as the DESIGN §5 JSON object (orjson-encoded when available)."""

    def __init__(self, *, service: str, env: str | None = None) -> None:
        super().__init__(reserved_attrs=_SKIP)
        self._static = {"service": service} if env is None else {"service": service, "env": env}
        self._timestamps = _Timestamps()

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict) -> None:
        """Fill the fixed keys in their documented order, then context, exception, extras."""
        log_data["timestamp"] = self._timestamps.format(record.created)
        log_data["level"] = level_name(record)
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data.update(self._static)
        attrs = record.__dict__
        for key in CONTEXT_FIELDS:
            value = attrs.get(key)
            if value is not None:
                log_data[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            log_data["exc_type"] = record.exc_info[0].__name__
        log_data.update(message_dict)
        merge_record_extra(record, log_data, reserved=self._skip_fields)


def install_record_factory() -> None:
    """Make every new LogRecord carry the current correlation id, command and trace id."""
    base = logging.getLogRecordFactory()
    if getattr(base, "_botwatch", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        cid = context.correlation_id.get()
        if cid is not None:
            record.correlation_id = cid
            record.command = context.command.get()
        if trace_id_source is not None:
            record.trace_id = trace_id_source()
        return record

    factory._botwatch = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class LogHandler(logging.StreamHandler):
    """Writes JSON lines, counts records by level, and survives a broken sink.

    ``before_emit`` (set by the Sentry integration) runs first for error records so the
    event id it returns lands on the same line.
    """

    def __init__(
        self,
        *,
        formatter: logging.Formatter,
        counter: Family,
        errors: ErrorReporter,
        stream: IO[str] | None = None,
    ) -> None:
        super().__init__(sys.stdout if stream is None else stream)
        self.setFormatter(formatter)
        self._counter = counter
        self._errors = errors
        self.before_emit: Callable[[logging.LogRecord], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Count, let Sentry see errors, then write the line."""
        self._counter.labels(level_name(record)).inc()
        if self.before_emit is not None and record.levelno >= logging.ERROR:
            try:
                self.before_emit(record)
            except Exception as exc:
                self._errors.report("sentry", exc)
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """A failed write is counted, never raised; its first occurrence also goes to stderr."""
        exc = sys.exc_info()[1]
        if exc is None:
            return
        # report() logs through this very handler; a second failure is only counted, since
        # each kind is logged once, so this cannot recurse further.
        if self._errors.report("logging", exc):
            # If stderr is gone too, the counter is all that is left.
            with contextlib.suppress(Exception):
                sys.stderr.write(f"botwatch: log sink failed: {exc!r}\n")


def loguru_sink(message: Any) -> None:
    """A loguru sink that re-emits each record through stdlib logging (and so as JSON).

    Usage::

        from loguru import logger
        logger.remove()
        logger.add(botwatch.loguru_sink, level="DEBUG")
    """
    record = message.record
    name = record["name"] or "loguru"
    logger = logging.getLogger(name)
    level = record["level"].no
    if not logger.isEnabledFor(level):
        return
    exc = record["exception"]
    extra = {k: v for k, v in record["extra"].items() if k not in _SKIP}
    out = logger.makeRecord(
        name,
        level,
        record["file"].path,
        record["line"],
        record["message"],
        (),
        (exc.type, exc.value, exc.traceback) if exc else None,
        func=record["function"],
        extra=extra or None,
    )
    out.levelname = record["level"].name
    out.created = record["time"].timestamp()
    logger.handle(out)
