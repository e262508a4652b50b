"""Waiting for a live system to get somewhere: one polling loop for every test that waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(check: Callable[[], T], timeout: float, every: float = 1.0) -> T:
    """Call `check` every `every` s until it returns something truthy or `timeout` s have passed.

    Returns the last result either way (checked once more at the deadline), so the caller asserts
    on it with its own message.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


async def apoll(check: Callable[[], T], within: float = 5.0, every: float = 0.01) -> T:
    """`poll` for code on the running event loop: yields to the loop between checks."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(every)
