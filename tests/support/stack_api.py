"""Clients of the running stack's HTTP APIs, shared by the tests/stack modules."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pytest
import requests

from tests.support.polling import poll

T = TypeVar("T")


def timestamp(text: str) -> datetime:
    """Docker's RFC 3339 timestamp (nanoseconds) as a datetime (microseconds)."""
    text = re.sub(r"(\.\d{6})\d*", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 5) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    result = poll(check, timeout, every)
    if not result:
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
    return result


class Loki:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(self.base + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()["data"]

    def streams(self, query: str, start: float, end: float | None = None, limit: int = 5000):
        """Log query result: a list of {"stream": labels, "values": [[ns, line], ...]}."""
        end = time.time() if end is None else end
        return self.get(
            "/loki/api/v1/query_range", query=query, start=int(start * 1e9), end=int(end * 1e9),
            limit=limit, direction="forward",
        )["result"]  # fmt: skip

    def lines(self, query: str, start: float, end: float | None = None) -> list[tuple[str, str]]:
        return [(ts, line) for s in self.streams(query, start, end) for ts, line in s["values"]]

    def push(self, labels: dict[str, str], line: str) -> None:
        body = {"streams": [{"stream": labels, "values": [[str(time.time_ns()), line]]}]}
        response = requests.post(self.base + "/loki/api/v1/push", json=body, timeout=30)
        assert response.status_code == 204, response.text
