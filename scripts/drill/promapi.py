"""The few Prometheus and Alertmanager HTTP API calls the drills make (stdlib only)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def prometheus_alerts(prometheus: str) -> list[dict[str, Any]]:
    """Active alerts (pending and firing) as Prometheus reports them."""
    return get_json(f"{prometheus}/api/v1/alerts")["data"]["alerts"]


def query_range(prometheus: str, expr: str, start: float, end: float, step: float = 1.0):
    params = {"query": expr, "start": start, "end": end, "step": step}
    url = f"{prometheus}/api/v1/query_range?" + urllib.parse.urlencode(params)
    return get_json(url)["data"]["result"]


def alertmanager_alerts(alertmanager: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Alerts Alertmanager holds (active, silenced or inhibited) with these labels."""
    query = urllib.parse.urlencode([("filter", f'{k}="{v}"') for k, v in labels.items()])
    return get_json(f"{alertmanager}/api/v2/alerts?{query}")


def matches(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def firing(prometheus: str, wanted: Mapping[str, str]) -> bool:
    """Whether Prometheus has an alert with these labels in state firing."""
    return any(
        a["state"] == "firing" and matches(a["labels"], wanted)
        for a in prometheus_alerts(prometheus)
    )
