"""The provisioned Grafana dashboards: panels, queries, and queries with variables filled in.

Used by the dashboard lint (tests/config/grafana), the live query test (tests/e2e) and the stack
test (tests/stack). Grafana variables are replaced the way Grafana would at query time with the
dashboard's default selection, so the result is a plain PromQL or LogQL expression that a real
parser or a real Prometheus can take.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
DATASOURCE_FILE = REPO / "grafana" / "provisioning" / "datasources" / "botwatch.yml"

# What Grafana's built-in interval variables stand for in a check (any valid duration will do:
# the parsers and Prometheus only need a well-formed range).
BUILTIN_VALUES = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__auto": "1m",
    "__range": "1h",
}
# Panels that show things, not numbers, and so carry no unit.
UNITLESS_PANELS = {"row", "text", "logs", "news", "dashlist", "alertlist", "annolist"}

_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


@dataclass(frozen=True)
class Query:
    """One panel target: which dashboard and panel it belongs to and its expression."""

    dashboard: str
    panel: str
    ref_id: str
    language: str  # "promql" or "logql"
    expr: str
    instant: bool

    @property
    def where(self) -> str:
        return f"{self.dashboard} / {self.panel!r} / {self.ref_id}"


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON file, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """All panels, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def datasource_type(panel: dict[str, Any], target: dict[str, Any]) -> str:
    """The data source type a target queries (its own, else its panel's)."""
    ref = target.get("datasource") or panel.get("datasource") or {}
    return ref.get("type", "") if isinstance(ref, dict) else ""


def variable_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each template variable's value under the dashboard's default selection."""
    values = dict(BUILTIN_VALUES)
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("includeAll"):
            values[var["name"]] = var.get("allValue") or ".*"
        else:
            current = var.get("current", {}).get("value", var.get("query", ""))
            values[var["name"]] = current[0] if isinstance(current, list) else str(current)
    return values


def expand(expr: str, values: dict[str, str]) -> str:
    """Replace $var, ${var} and ${var:format} the way Grafana does for a single selection."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name not in values:
            raise KeyError(f"undefined Grafana variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(substitute, expr)


def queries(*, expanded: bool = True) -> list[Query]:
    """Every PromQL and LogQL panel query of every dashboard (variables filled in by default)."""
    found = []
    for name, dashboard in load_dashboards().items():
        values = variable_values(dashboard)
        for panel in iter_panels(dashboard):
            for target in panel.get("targets", []):
                kind = datasource_type(panel, target)
                language = {"prometheus": "promql", "loki": "logql"}.get(kind)
                if language is None or not target.get("expr"):
                    continue
                expr = expand(target["expr"], values) if expanded else target["expr"]
                instant = bool(target.get("instant")) or target.get("queryType") == "instant"
                found.append(
                    Query(name, panel.get("title", ""), target["refId"], language, expr, instant)
                )
    return found


def variable_selectors() -> list[tuple[str, str]]:
    """The series selector of each Prometheus label-values variable, variables filled in.

    Grafana stores it structured ({qryType: 1, metric, labelFilters, label}) and renders
    `metric{label op "value", ...}` from it; this renders the same.
    """
    found = []
    for name, dashboard in load_dashboards().items():
        values = variable_values(dashboard)
        for var in dashboard.get("templating", {}).get("list", []):
            query = var.get("query")
            if var.get("type") != "query" or var["datasource"]["type"] != "prometheus":
                continue
            matchers = ", ".join(
                f'{f["label"]}{f["op"]}"{f["value"]}"' for f in query["labelFilters"]
            )
            selector = expand(f"{query['metric']}{{{matchers}}}", values)
            found.append((f"{name} / ${var['name']}", selector))
    return found


# How Grafana's alert list panel reads its "Alert instance label" filter (parseMatchers in
# public/app/features/alerting/unified/utils/alertmanager.ts): a label name, an operator and a
# value that ends at a quote, comma or closing brace.
_ALERT_MATCHER = re.compile(r'\b([\w.-]+)(=~|!=|!~|=(?="?\w))"?([^"\n,}]*)"?')


@dataclass(frozen=True)
class AlertList:
    """One alert list panel and its instance-label filter, variables filled in."""

    dashboard: str
    panel: dict[str, Any]
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, value)

    @property
    def where(self) -> str:
        return f"{self.dashboard} / {self.panel.get('title', '')!r}"

    def shows(self, labels: dict[str, str]) -> bool:
        """Whether the filter keeps an alert with these labels, as Grafana's labelsMatchMatchers.

        Every matcher needs a label of its name whose value passes, so a matcher on a label the
        alert lacks drops it (even with `!=`); regular expressions are searched, not anchored
        (the dashboards anchor their own, so an anchoring reader would agree).
        """
        tests = {
            "=": lambda value, want: value == want,
            "!=": lambda value, want: value != want,
            "=~": lambda value, want: re.search(want, value) is not None,
            "!~": lambda value, want: re.search(want, value) is None,
        }
        return all(
            name in labels and tests[op](labels[name], want) for name, op, want in self.matchers
        )


def alert_lists(selection: dict[str, str] | None = None) -> list[AlertList]:
    """Every alert list panel, its filter under the default selection (or these variable values).

    A selected value is written as Grafana's regex format renders one choice: escaped.
    """
    found = []
    for name, dashboard in load_dashboards().items():
        values = variable_values(dashboard) | {
            k: re.escape(v) for k, v in (selection or {}).items()
        }
        for panel in iter_panels(dashboard):
            if panel.get("type") != "alertlist":
                continue
            text = expand(panel["options"].get("alertInstanceLabelFilter", ""), values)
            matchers = tuple(m.groups() for m in _ALERT_MATCHER.finditer(text))
            found.append(AlertList(name, panel, matchers))
    return found
