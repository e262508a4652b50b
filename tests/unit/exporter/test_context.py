"""Correlation scopes: cheap counter-based ids that stay readable and unique."""

from __future__ import annotations

import os
import re

from botwatch import context

HEX16 = re.compile(r"[0-9a-f]{16}")


def test_ids_are_16_hex_digits_and_distinct():
    """Consecutive scopes get different 16-hex-digit ids."""
    ids = set()
    for _ in range(1000):
        with context.scope() as cid:
            ids.add(cid)
    assert len(ids) == 1000 and all(HEX16.fullmatch(cid) for cid in ids)


def test_an_id_reads_the_same_every_time():
    """The id formatted for a log line equals the one formatted later for Sentry."""
    scope = context.new_scope("ping")
    token = context.current.set(scope)
    try:
        assert context.correlation_id(scope) == context.current_ids()[0]
        assert context.current_ids() == (context.correlation_id(scope), "ping")
    finally:
        context.current.reset(token)


def test_a_forked_child_does_not_repeat_the_parents_ids():
    """After a fork, the child's next id differs from the parent's next id."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave without running pytest's exit
        os.close(read)
        os.write(write, next_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = next_id()
    assert HEX16.fullmatch(child) and child[:8] != parent[:8]


def next_id() -> str:
    with context.scope() as cid:
        return cid
