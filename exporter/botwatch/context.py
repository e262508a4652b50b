"""Per-command and per-interaction context, carried by contextvars into every log line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("botwatch_correlation_id", default=None)
command: ContextVar[str | None] = ContextVar("botwatch_command", default=None)


def new_correlation_id() -> str:
    """A fresh 16-hex-digit id; short enough to read, unique enough for one bot's logs."""
    return os.urandom(8).hex()


@contextmanager
def scope(*, command_name: str | None = None, reuse: bool = True) -> Iterator[str]:
    """Set a correlation id (reusing the enclosing one when ``reuse``) and the command name."""
    current = correlation_id.get()
    cid = current if reuse and current is not None else new_correlation_id()
    cid_token = correlation_id.set(cid)
    cmd_token = command.set(command_name) if command_name is not None else None
    try:
        yield cid
    finally:
        if cmd_token is not None:
            command.reset(cmd_token)
        correlation_id.reset(cid_token)
