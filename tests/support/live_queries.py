"""Dashboard panel queries run against a live Prometheus-compatible query API.

A panel's expression is expanded with its dashboard's default variables (and `$__range` set to the
window asked for), then run as Grafana would: an instant query at the window's end, or a range
query over the window with a 15s step. Used by the live dashboard test (Prometheus) and by the
long-term store test (the same queries against VictoriaMetrics).
"""

from __future__ import annotations

import functools
import time

import requests

from tests.support.grafana_dashboards import Query, expand, load_dashboards, variable_values


@functools.cache
def default_values(dashboard: str) -> dict[str, str]:
    """The dashboard's default variable values (read once, not on every poll of every query)."""
    return variable_values(load_dashboards()[dashboard])


def live_expr(query: Query, range_seconds: int) -> str:
    """The query with the dashboard's default variables and live interval values."""
    return expand(query.expr, default_values(query.dashboard) | {"__range": f"{range_seconds}s"})


def run(url: str, query: Query, range_seconds: int, end: float | None = None) -> list[dict]:
    """The result series of a panel query over the `range_seconds` up to `end` (default: now)."""
    expr = live_expr(query, range_seconds)
    end = time.time() if end is None else end
    if query.instant:
        params = {"query": expr, "time": end}
        response = requests.get(f"{url}/api/v1/query", params=params, timeout=10)
    else:
        params = {"query": expr, "start": end - range_seconds, "end": end, "step": 15}
        response = requests.get(f"{url}/api/v1/query_range", params=params, timeout=10)
    body = response.json()
    assert body["status"] == "success", f"{query.where}: {body}"
    return body["data"]["result"]
