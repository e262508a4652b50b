"""Every LogQL expression of the project parses, and selects only labels that promtail sets.

Found wherever they live: Loki rule files, Loki queries in Grafana dashboards (panel targets,
annotations, variable queries), and ```logql blocks in the docs. New files are picked up as
they appear; nothing is listed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.config.logs.conftest import REPO, loki_rule_groups
from tests.support.grafana_dashboards import DASHBOARD_DIR, iter_panels, load_dashboards
from tests.support.logql import check_logql

# Labels a stream can have: promtail's (tests/config/logs/test_promtail.py) plus service_name,
# which Loki derives from `service` on ingest.
STREAM_LABELS = {"container", "service", "env", "job", "level", "host", "service_name"}

_FENCE = re.compile(r"```logql\n(.*?)```", re.DOTALL)
_SELECTOR = re.compile(r'\{((?:\s*\w+\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*,?)+)\}')
_MATCHER_NAME = re.compile(r'(\w+)\s*(?:=~|!~|!=|=)\s*"')


def _is_loki(datasource: Any) -> bool:
    if isinstance(datasource, dict):
        return datasource.get("type") == "loki" or datasource.get("uid") == "loki"
    return isinstance(datasource, str) and "loki" in datasource.lower()


def _dashboard_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in iter_panels(dashboard):
        for target in panel.get("targets") or []:
            if _is_loki(target.get("datasource") or panel.get("datasource")) and target.get("expr"):
                yield f"panel {panel.get('title')!r} {target.get('refId')}", target["expr"]
    for annotation in (dashboard.get("annotations") or {}).get("list") or []:
        if _is_loki(annotation.get("datasource")) and annotation.get("expr"):
            yield f"annotation {annotation.get('name')!r}", annotation["expr"]
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if not _is_loki(variable.get("datasource")):
            continue
        query = variable.get("query")
        stream = query.get("stream") if isinstance(query, dict) else None
        if isinstance(query, str):  # label_values({selector}, label) in the string form
            match = re.match(r"label_values\((\{.*\})\s*,\s*\w+\)", query.strip())
            stream = match.group(1) if match else None
        if stream:
            yield f"variable {variable.get('name')!r}", stream


def discover() -> list[tuple[str, str]]:
    """(where, expression) for every LogQL expression in the repository."""
    found: list[tuple[str, str]] = []
    for path, group in loki_rule_groups():
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            found.append((f"{path.relative_to(REPO)} {name}", rule["expr"]))
    for name, dashboard in load_dashboards().items():
        for where, expr in _dashboard_exprs(dashboard):
            found.append((f"{(DASHBOARD_DIR / name).relative_to(REPO)} {where}", expr))
    for path in sorted((REPO / "docs").rglob("*.md")):
        for i, block in enumerate(_FENCE.findall(path.read_text())):
            found.append((f"{path.relative_to(REPO)} block {i + 1}", block.strip()))
    return found


EXPRESSIONS = discover()


def test_expressions_are_found_in_rules_and_dashboards():
    """The discovery sees the rule files and, once it has Loki panels, the logs dashboard."""
    places = {where.split(" ", 1)[0] for where, _ in EXPRESSIONS}
    assert any(place.startswith("loki/rules/") for place in places)
    if (REPO / "grafana" / "dashboards" / "logs.json").exists():
        assert "grafana/dashboards/logs.json" in places


def test_every_expression_parses():
    """Each LogQL expression parses with Grafana's grammar (after template variables are filled)."""
    errors = check_logql(expr for _, expr in EXPRESSIONS)
    bad = {where: err for (where, _), err in zip(EXPRESSIONS, errors, strict=True) if err}
    assert bad == {}


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_selectors_use_existing_labels(where, expr):
    """Stream selectors name only labels the pipeline sets (ids are structured metadata)."""
    names = {
        name for selector in _SELECTOR.findall(expr) for name in _MATCHER_NAME.findall(selector)
    }
    assert names <= STREAM_LABELS, f"{where}: {sorted(names - STREAM_LABELS)}"
