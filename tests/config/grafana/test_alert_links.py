"""Every alert's dashboard_url lands on a provisioned dashboard with variables it really has."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.config.logs.conftest import loki_rules
from tests.config.prometheus.conftest import alerts as prometheus_alerts
from tests.support.grafana_dashboards import load_dashboards

DASHBOARDS = {d["uid"]: d for d in load_dashboards().values()}
# (alert name, dashboard_url) of every alerting rule, Prometheus and Loki ruler alike.
ALERTS = [(rule.alert, rule.annotations.get("dashboard_url", "")) for rule in prometheus_alerts()]
ALERTS += [
    (rule["alert"], rule.get("annotations", {}).get("dashboard_url", ""))
    for rule in loki_rules()
    if "alert" in rule
]


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
