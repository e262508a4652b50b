"""JSON logs per DESIGN §5: one object per line, correlation ids, levels counted.

Every record from any logger (discord.py's, aiohttp's, the bot's) passes through the
record factory installed here, so it carries the current ``correlation_id`` and
``command``; the handler counts it in ``log_records_total{level}``, hands errors to
Sentry first so the line can carry ``sentry_event_id``, and leaves the write to a
thread, so a slow, stuck or broken sink never blocks or raises into the caller.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from pythonjsonlogger.core import RESERVED_ATTRS

from . import context, scrub
from .cardinality import Family
from .errors import ErrorReporter
from .metrics import LOG_LEVELS

try:
    from pythonjsonlogger.orjson import OrjsonFormatter as _BaseFormatter
except ImportError:  # orjson has no wheel for this platform: same output, slower encoder
    from pythonjsonlogger.json import JsonFormatter as _BaseFormatter

__all__ = ["JsonFormatter", "LineWriter", "LogHandler", "install_record_factory", "loguru_sink"]

# The names log_records_total{level} is bound with up front, by stdlib level number.
LEVEL_NAMES = {getattr(logging, name.upper()): name for name in LOG_LEVELS}
# Attributes this module puts on records; the formatter places them itself.
CONTEXT_FIELDS = ("correlation_id", "command", "trace_id", "sentry_event_id")
_SKIP = frozenset(RESERVED_ATTRS) | set(CONTEXT_FIELDS) | {"message", "asctime"}

# Set by botwatch.sentry while a Sentry client is active, and by botwatch.otel (which sets it
# after Sentry, so its trace id wins): returns the current trace id.
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
    """Formats a record as the DESIGN §5 JSON object (orjson-encoded when available).

    Credentials and chat content never reach the line (botwatch.scrub): not in the message,
    the extra fields, the exception text or the traceback.
    """

    def __init__(self, *, service: str, env: str | None = None) -> None:
        super().__init__(reserved_attrs=_SKIP)
        self._static = {"service": service} if env is None else {"service": service, "env": env}
        self._timestamps = _Timestamps()

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict) -> None:
        """Fill the fixed keys in their documented order, then context, exception, extras."""
        log_data["timestamp"] = self._timestamps.format(record.created)
        log_data["level"] = level_name(record)
        log_data["logger"] = record.name
        log_data["message"] = scrub.scrub_message(record)
        log_data.update(self._static)
        attrs = record.__dict__
        for key in CONTEXT_FIELDS:
            value = attrs.get(key)
            if value is not None:
                log_data[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            log_data["exc_type"] = record.exc_info[0].__name__
        for key, value in message_dict.items():
            log_data[key] = scrub.scrub_field(key, value)
        skip = self._skip_fields
        for key, value in attrs.items():  # the extra fields, as merge_record_extra picks them
            if key not in skip and not (key.__class__ is str and key.startswith("_")):
                log_data[key] = scrub.scrub_field(key, value)

    def formatException(self, ei) -> str:
        """The traceback, with credentials and user-typed exception texts redacted."""
        return scrub.scrub_with(super().formatException(ei), scrub.user_texts(ei[1]))

    def formatStack(self, stack_info: str) -> str:
        return scrub.scrub_text(super().formatStack(stack_info))


def install_record_factory() -> None:
    """Make every new LogRecord carry the current correlation id, command and trace id."""
    base = logging.getLogRecordFactory()
    if getattr(base, "_botwatch", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        scope = context.current.get()
        if scope is not None:
            record.correlation_id = context.correlation_id(scope)
            record.command = scope[context.COMMAND]
        if trace_id_source is not None:
            record.trace_id = trace_id_source()
        return record

    factory._botwatch = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class LineWriter:
    """Writes lines to a stream, from a daemon thread when ``threaded``.

    Threaded (botwatch's default for stdout, where a stalled log pipe — Docker's default
    blocking log mode, say — would otherwise stall the event loop), a full buffer drops
    the line and reports it through ``on_drop`` instead of blocking. Unthreaded (an
    injected stream: a file, a test buffer), lines are written at once. A failed write
    goes to ``on_error`` either way.

    ``put`` is called under the logging handler's lock, so one producer at a time; the
    writer wakes at most every ``BATCH_SECONDS`` and writes what has gathered in one go,
    which keeps it from competing with the event loop for the GIL line by line.
    """

    BATCH_SECONDS = 0.005

    def __init__(
        self,
        stream: IO[str],
        *,
        on_error: Callable[[Exception], None],
        on_drop: Callable[[], None],
        threaded: bool = True,
        capacity: int = 10_000,
    ) -> None:
        self.stream = stream
        self.threaded = threaded
        self._on_error = on_error
        self._on_drop = on_drop
        self._capacity = capacity
        self._lines: collections.deque[str] = collections.deque()
        self._queued = 0
        self._written = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, line: str) -> None:
        """Write one line, or queue it without blocking when threaded."""
        if not self.threaded:
            with self._lock:
                self._write(line)
            return
        if len(self._lines) >= self._capacity:
            self._on_drop()
            return
        self._lines.append(line)
        self._queued += 1
        if not self._wake.is_set():
            if self._thread is None:
                self._start()
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="botwatch-log-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        lines = self._lines
        while True:
            self._wake.wait()
            time.sleep(self.BATCH_SECONDS)  # let a burst gather: one write, one flush
            self._wake.clear()
            batch = [lines.popleft() for _ in range(len(lines))]
            if batch:  # empty when a line set the event after the previous batch took it
                self._write("".join(batch))
                self._written += len(batch)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception as exc:
            self._on_error(exc)

    def drain(self, timeout: float) -> bool:
        """Wait until every queued line is written; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self._written < self._queued:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True


class LogHandler(logging.Handler):
    """Formats JSON lines, counts records by level, and hands lines to a :class:`LineWriter`.

    Everything that needs the caller's context (correlation id, the Sentry event id set
    by ``before_emit`` for error records) happens in the caller; only the write may be
    deferred. A broken sink never raises into the caller; a stuck stdout never blocks it.
    """

    terminator = "\n"
    drain_timeout = 2.0

    def __init__(
        self,
        *,
        formatter: logging.Formatter,
        counter: Family,
        errors: ErrorReporter,
        stream: IO[str] | None = None,
        threaded: bool | None = None,
    ) -> None:
        """``threaded`` defaults to True for stdout and False for an injected ``stream``."""
        super().__init__()
        self.setFormatter(formatter)
        self._counter = counter
        self._errors = errors
        self._reported_sink = False
        self.before_emit: Callable[[logging.LogRecord], None] | None = None
        self.writer = LineWriter(
            sys.stdout if stream is None else stream,
            on_error=self._sink_failed,
            on_drop=lambda: errors.count("logging"),
            threaded=stream is None if threaded is None else threaded,
        )

    def emit(self, record: logging.LogRecord) -> None:
        """Count, let Sentry see errors, format, and queue the line."""
        try:
            self._counter.labels(level_name(record)).inc()
            if self.before_emit is not None and record.levelno >= logging.ERROR:
                try:
                    self.before_emit(record)
                except Exception as exc:
                    self._errors.report("sentry", exc)
            self.writer.put(self.format(record) + self.terminator)
        except RecursionError:
            raise
        except Exception as exc:
            self._errors.report("logging", exc)

    def _sink_failed(self, exc: Exception) -> None:
        # Counted every time; reported once, on stderr, since the sink itself is what broke.
        self._errors.count("logging")
        if not self._reported_sink:
            self._reported_sink = True
            with contextlib.suppress(Exception):  # stderr gone too: the counter remains
                sys.stderr.write(f"botwatch: log sink failed: {exc!r}\n")

    def flush(self) -> None:
        """Wait (a bounded time) until queued lines are written."""
        self.writer.drain(self.drain_timeout)


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
