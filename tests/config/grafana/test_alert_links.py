"""Every alert's dashboard_url lands on a provisioned dashboard with variables it really has."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from tests.support.grafana_dashboards import REPO, load_dashboards

DASHBOARDS = {d["uid"]: d for d in load_dashboards().values()}
RULE_FILES = sorted((REPO / "prometheus" / "rules").glob("*.yml")) + sorted(
    (REPO / "loki" / "rules").rglob("*.yml")
)


def alerts() -> list[tuple[str, str]]:
    """(alert name, dashboard_url) of every alerting rule, Prometheus and Loki ruler alike."""
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    url = rule.get("annotations", {}).get("dashboard_url", "")
                    found.append((rule["alert"], url))
    return found


ALERTS = alerts()


def test_rules_found():
    """The rule files are there to check (the parametrized test below is not vacuous)."""
    assert len(ALERTS) >= 10


@pytest.mark.parametrize(("alert", "url"), ALERTS, ids=[a for a, _ in ALERTS])
def test_dashboard_url_lands_on_a_dashboard(alert, url):
    """dashboard_url is d/<uid>[?var-x=...] with an existing uid and only its variables."""
    parts = urlsplit(url)
    assert parts.path.startswith("d/"), url
    uid = parts.path.removeprefix("d/")
    assert uid in DASHBOARDS, url
    variables = {v["name"]: v for v in DASHBOARDS[uid].get("templating", {}).get("list", [])}
    for key, value in parse_qsl(parts.query):
        assert key.startswith("var-"), url
        name = key.removeprefix("var-")
        assert name in variables, f"{url}: {uid} has no variable {name!r}"
        if variables[name]["type"] == "custom":
            assert value in variables[name]["query"].split(","), url
