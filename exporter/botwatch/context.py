"""Per-command and per-interaction context, carried by one contextvar into every log line.

A scope is opened for every command and every message or interaction event, so it is on
the hot path: a command's scope is set once in its own task and never reset (see
``DiscordInstrumentation._run``). Its value is a plain list (half the cost of building any
object), and its correlation id starts as a number from a process-wide counter, turned
into text only when a log line or Sentry first reads it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# Slots of a scope: [correlation id (int until first read, then str), command, error].
# ``error`` is the exception discord.py reported for the command (command_error/on_error),
# or FINISHED once the command is over.
ID, COMMAND, ERROR = 0, 1, 2
FINISHED: Any = object()

current: ContextVar[list[Any] | None] = ContextVar("botwatch_scope", default=None)

# The next scope number; next() on a count is atomic under the GIL.
next_id = itertools.count(1).__next__
_prefix = os.urandom(4).hex()


def _new_prefix() -> None:
    # A forked child continues the parent's counter; its own prefix keeps its ids apart.
    global _prefix
    _prefix = os.urandom(4).hex()


os.register_at_fork(after_in_child=_new_prefix)


def new_scope(command_name: str | None = None, *, reuse: bool = True) -> list[Any]:
    """A scope nested in the current one: its id when ``reuse``, its command unless named."""
    outer = current.get()
    if outer is None:
        return [next_id(), command_name, None]
    return [
        outer[ID] if reuse else next_id(),
        outer[COMMAND] if command_name is None else command_name,
        None,
    ]


def correlation_id(scope: list[Any]) -> str:
    """The scope's id: 16 hex digits, a random per-process prefix and a 32-bit counter."""
    cid = scope[ID]
    if cid.__class__ is int:
        cid = scope[ID] = f"{_prefix}{cid & 0xFFFFFFFF:08x}"
    return cid


def current_ids() -> tuple[str | None, str | None]:
    """``(correlation_id, command)`` of the current scope; ``(None, None)`` outside any."""
    scope = current.get()
    if scope is None:
        return None, None
    return correlation_id(scope), scope[COMMAND]


@contextmanager
def scope(*, command_name: str | None = None, reuse: bool = True) -> Iterator[str]:
    """Open a scope (see :func:`new_scope`) around a block; yields its correlation id."""
    value = new_scope(command_name, reuse=reuse)
    token = current.set(value)
    try:
        yield correlation_id(value)
    finally:
        current.reset(token)
