"""The boundary every hook goes through: exceptions are counted, and logged once per kind."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from .cardinality import Family

log = logging.getLogger("botwatch")


class ErrorReporter:
    """Counts ``exporter_errors_total{component}`` and logs the first error of each kind.

    A hook that fails on every event would otherwise flood the logs it is meant to keep
    readable; one line per (component, exception class) says what broke, the counter says
    how often.
    """

    def __init__(self, errors: Family) -> None:
        self._errors = errors
        self._logged: set[tuple[str, str]] = set()

    def count(self, component: str) -> None:
        """Count an error the caller logs itself (in words more useful than a traceback)."""
        self._errors.labels(component).inc()

    def report(self, component: str, exc: BaseException) -> bool:
        """Count ``exc`` against ``component``; log it (and return True) if its kind is new."""
        with contextlib.suppress(Exception):  # the counter itself may be what is broken
            self._errors.labels(component).inc()
        kind = (component, type(exc).__name__)
        if kind in self._logged:
            return False
        self._logged.add(kind)
        log.error(
            "botwatch %s hook failed with %s; the bot continues and further errors of this "
            "kind are only counted in exporter_errors_total",
            component,
            kind[1],
            exc_info=exc,
            extra={"component": component},
        )
        return True

    @contextlib.contextmanager
    def guard(self, component: str) -> Iterator[None]:
        """Run a block whose exceptions must never reach the bot."""
        try:
            yield
        except Exception as exc:
            self.report(component, exc)
