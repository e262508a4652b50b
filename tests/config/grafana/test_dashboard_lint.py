"""Static checks of grafana/dashboards/*.json: the rules of grafana/dashboard-linter plus ours.

dashboard-linter's rules, adapted where Botwatch's conventions differ (each test says how):
template-datasource, panel-datasource, panel-title-description, panel-units, panel-no-targets,
target-rate-interval, target-counter-agg, target-logql-auto, template-on-time-change-reload,
target-job, uneditable-dashboard. The PromQL/LogQL parse checks run the real parsers
(test_dashboard_queries.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.support.grafana_dashboards import (
    DATASOURCE_FILE,
    UNITLESS_PANELS,
    alert_lists,
    datasource_type,
    iter_panels,
    load_dashboards,
    queries,
)

# The classic dashboard JSON schema of the pinned Grafana 13.2 (@grafana/schema 13.2.3, the
# dashboard kind's schemaVersion); Grafana migrates older files on load, so a lower number drifts.
SCHEMA_VERSION = 42
SHARED_TAG = "botwatch"
EXPECTED = {
    "overview.json": "botwatch-overview",
    "commands.json": "botwatch-commands",
    "logs.json": "botwatch-logs",
    "alerts.json": "botwatch-alerts",
    "stack.json": "botwatch-stack",
}
# Angular panels were removed in Grafana 12; these ids render as "panel plugin not found".
ANGULAR_PANELS = {
    "graph", "singlestat", "table-old", "grafana-piechart-panel", "grafana-worldmap-panel",
}  # fmt: skip
# Grafana unit ids the dashboards may use (a typo renders as a plain number with no unit).
UNITS = {
    "none", "short", "percent", "percentunit", "s", "ms", "µs", "ns", "m", "h", "d",
    "bytes", "decbytes", "Bps", "binBps", "reqps", "rps", "wps", "ops", "opm", "cps", "cpm",
    "dateTimeAsIso", "dateTimeFromNow", "bool", "bool_yes_no",
}  # fmt: skip
# Loki stream labels promtail sets (DESIGN §5, promtail/promtail.yml); ids are structured metadata.
LOKI_LABELS = {"service", "level", "env", "container", "job"}
# Every value promtail gives the `level` label: DESIGN §5's five levels, and `unknown` for
# plain-text lines whose level it cannot see (promtail/promtail.yml, the level template).
LEVEL_VALUES = ["debug", "info", "warning", "error", "critical", "unknown"]
# Panel types that legitimately run no data source query (panel-no-targets), and why.
NO_QUERY_PANELS = {
    "text": "static Markdown",
    # Grafana's Alertmanager data source answers no panel query (its query() returns no data), so
    # the firing alerts come from here: the alert list reads every rule source Grafana knows (the
    # Prometheus and Loki data sources, both `manageAlerts: true`), metric and log alerts alike.
    "alertlist": "reads alert rules and their instances from the rule sources, not a query",
}
# Labels the alert list filters may use: every alert carries alertname and severity, bot alerts
# also service (the rules aggregate `by (service)`).
ALERT_LABELS = {"alertname", "severity", "service"}
SEVERITIES = {"critical", "warning", "info"}
RANGE = re.compile(r"\[([^\]]*)\]")
COUNTER = re.compile(r"\b([a-zA-Z_:][\w:]*_(?:total|count|bucket|sum))\b(?!\s*\()")
RANGE_FUNCTIONS = {"rate", "irate", "increase"}

DASHBOARDS = load_dashboards()


def provisioned_datasources() -> dict[str, str]:
    """uid -> type of every provisioned data source."""
    config = yaml.safe_load(DATASOURCE_FILE.read_text(encoding="utf-8"))
    return {ds["uid"]: ds["type"] for ds in config["datasources"]}


def content_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in iter_panels(dashboard) if p.get("type") != "row"]


def enclosing_function(expr: str, pos: int) -> str:
    """Name of the innermost function call whose parentheses enclose position `pos`."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        if expr[i] == ")":
            depth += 1
        elif expr[i] == "(":
            if depth == 0:
                match = re.search(r"([a-zA-Z_]\w*)\s*$", expr[:i])
                return match.group(1) if match else ""
            depth -= 1
    return ""


def test_the_five_dashboards_exist_with_their_fixed_uids():
    """Exactly the five dashboards of the contract exist, each file holding its fixed uid."""
    assert {name: d.get("uid") for name, d in DASHBOARDS.items()} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
class TestDashboardShape:
    def test_importable_as_provisioned_file(self, name):
        """No exported numeric id and no __inputs/__requires import block: provisioned as is."""
        dashboard = DASHBOARDS[name]
        assert dashboard.get("id") is None
        assert not {"__inputs", "__requires", "__elements"} & dashboard.keys()

    def test_current_schema_version(self, name):
        """The classic JSON model at the pinned Grafana's schemaVersion (no migration on load)."""
        assert DASHBOARDS[name]["schemaVersion"] == SCHEMA_VERSION

    def test_uid_title_and_tag(self, name):
        """Readable uid of at most 40 characters, a 'Botwatch / ' title and the shared tag."""
        dashboard = DASHBOARDS[name]
        assert len(dashboard["uid"]) <= 40
        assert dashboard["title"].startswith("Botwatch / ")
        assert SHARED_TAG in dashboard["tags"]
        assert dashboard.get("description")

    def test_dashboards_dropdown_link(self, name):
        """A dropdown of every Botwatch dashboard, keeping the time range (the shared-tag link)."""
        links = DASHBOARDS[name].get("links", [])
        assert any(
            link.get("type") == "dashboards"
            and link.get("tags") == [SHARED_TAG]
            and link.get("asDropdown")
            and link.get("keepTime")
            for link in links
        ), links

    def test_not_editable(self, name):
        """Read-only (dashboard-linter's uneditable-dashboard): the JSON file is the source."""
        assert DASHBOARDS[name]["editable"] is False

    def test_panel_ids_unique(self, name):
        """Panel ids are unique within the dashboard (Grafana mixes up panels that share one)."""
        ids = [p.get("id") for p in iter_panels(DASHBOARDS[name])]
        assert None not in ids
        assert len(ids) == len(set(ids))

    def test_no_angular_panels(self, name):
        """No Angular graph/singlestat/table-old panels, which Grafana 13 cannot render."""
        types = {p["type"] for p in iter_panels(DASHBOARDS[name])}
        assert not types & ANGULAR_PANELS

    def test_panels_have_title_and_description(self, name):
        """Every panel has a title and a description (panel-title-description)."""
        for panel in content_panels(DASHBOARDS[name]):
            assert panel.get("title"), panel
            assert panel.get("description"), panel["title"]

    def test_panels_have_targets(self, name):
        """Every data panel has a query with an expression; query-less panel types none at all."""
        for panel in content_panels(DASHBOARDS[name]):
            if panel["type"] in NO_QUERY_PANELS:
                # A leftover query or data source there would be ignored, and mislead a reader.
                assert not panel.get("targets") and "datasource" not in panel, panel["title"]
                continue
            assert [t for t in panel.get("targets", []) if t.get("expr")], panel["title"]

    def test_panels_have_units(self, name):
        """Every numeric panel states a known Grafana unit or a custom suffix (panel-units)."""
        for panel in content_panels(DASHBOARDS[name]):
            if panel["type"] in UNITLESS_PANELS:
                continue
            if panel["type"] == "heatmap":
                unit = panel["options"]["yAxis"].get("unit")
            else:
                unit = panel["fieldConfig"]["defaults"].get("unit")
            assert unit in UNITS or str(unit).startswith(("suffix:", "prefix:")), (
                f"{panel['title']}: unit {unit!r}"
            )

    def test_datasources_by_provisioned_uid(self, name):
        """Panels, queries and variables name a provisioned data source by uid and matching type.

        dashboard-linter's template-datasource/panel-datasource rules ask for a `$datasource`
        variable so an imported dashboard can be pointed at any data source; Botwatch provisions
        fixed uids instead (STYLE.md), so the rule here is: a {type, uid} reference to one of them.
        """
        provisioned = provisioned_datasources()
        dashboard = DASHBOARDS[name]
        # A data source picker ($metrics: Prometheus or VictoriaMetrics) stands for the data
        # sources of its type; its default must be one of them.
        for picker in _pickers(dashboard):
            assert provisioned.get(picker["current"]["value"]) == picker["query"], picker["name"]
            provisioned[f"${{{picker['name']}}}"] = picker["query"]
        refs = [("variable " + v["name"], v.get("datasource")) for v in _variables(dashboard)]
        for panel in content_panels(dashboard):
            if panel["type"] in NO_QUERY_PANELS:
                continue  # no data source (test_panels_have_targets)
            refs.append((panel["title"], panel.get("datasource")))
            refs += [(panel["title"], t.get("datasource")) for t in panel.get("targets", [])]
        for where, ref in refs:
            if ref is None and where.startswith("variable"):
                continue  # custom and textbox variables query nothing
            assert isinstance(ref, dict), f"{where}: data source by name, not uid: {ref!r}"
            assert provisioned.get(ref.get("uid")) == ref.get("type"), f"{where}: {ref}"

    def test_query_variables_refresh_on_time_range_change(self, name):
        """Query variables reload when the time range changes (template-on-time-change-reload)."""
        for var in _variables(DASHBOARDS[name]):
            if var["type"] == "query":
                assert var["refresh"] == 2, var["name"]


def _variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return dashboard.get("templating", {}).get("list", [])


def _pickers(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in _variables(dashboard) if v["type"] == "datasource"]


@pytest.mark.parametrize("name", ["overview.json", "commands.json"])
def test_bot_dashboards_read_history_from_either_store(name):
    """Every Prometheus query of a bot dashboard follows its $metrics picker, so switching it to
    VictoriaMetrics (profile longterm) shows the whole dashboard from the long-term store."""
    (picker,) = _pickers(DASHBOARDS[name])
    assert (picker["name"], picker["query"]) == ("metrics", "prometheus")
    refs = [v.get("datasource") for v in _variables(DASHBOARDS[name]) if v["type"] == "query"]
    for panel in content_panels(DASHBOARDS[name]):
        refs += [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
    prometheus = [r for r in refs if r and r.get("type") == "prometheus"]
    assert prometheus
    assert all(r["uid"] == "${metrics}" for r in prometheus)


def test_dashboard_uids_unique():
    """No two dashboard files share a uid."""
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids))


def test_links_to_dashboards_resolve():
    """Every /d/<uid> link inside a dashboard points at one of the provisioned dashboards."""
    text = "".join(str(d) for d in DASHBOARDS.values())
    targets = set(re.findall(r"/d/([\w-]+)", text))
    assert targets and targets <= set(EXPECTED.values())


ALERT_LISTS = alert_lists()


def test_alert_lists_show_the_firing_alerts():
    """The firing-alert panels of the overview and alerts dashboards are alert lists."""
    places = {(a.dashboard, a.panel["options"]["viewMode"]) for a in ALERT_LISTS}
    assert places == {(d, v) for d in ("overview.json", "alerts.json") for v in ("list", "stat")}


def test_alert_list_rule_sources_are_listed():
    """Prometheus and Loki are rule sources (manageAlerts), so the alert lists see both rulers."""
    config = yaml.safe_load(DATASOURCE_FILE.read_text(encoding="utf-8"))
    managed = {ds["uid"] for ds in config["datasources"] if ds["jsonData"].get("manageAlerts")}
    assert managed == {"prometheus", "loki"}


@pytest.mark.parametrize("alert_list", ALERT_LISTS, ids=lambda a: a.where)
class TestAlertList:
    def test_every_rule_source(self, alert_list):
        """No data source filter: it takes one source, and metric and log alerts both count."""
        assert alert_list.panel["options"]["datasource"] is None

    def test_firing_only(self, alert_list):
        """Only firing alerts: no pending, recovering, no-data, normal or error rules."""
        states = alert_list.panel["options"]["stateFilter"]
        assert {state for state, shown in states.items() if shown} == {"firing"}

    def test_watchdog_left_out(self, alert_list):
        """The always-firing Watchdog is filtered out (it would count as a firing alert)."""
        watchdog = {"alertname": "Watchdog", "severity": "info"}
        assert not alert_list.shows(watchdog)
        assert not alert_list.shows(watchdog | {"service": "bot"})

    def test_filter_uses_alert_labels(self, alert_list):
        """The label filter parses into matchers on labels alerts carry, with valid values."""
        assert alert_list.matchers, alert_list.panel["options"]["alertInstanceLabelFilter"]
        for label, op, value in alert_list.matchers:
            assert label in ALERT_LABELS, label
            if op in {"=~", "!~"}:
                re.compile(value)
            elif label == "severity":
                assert value in SEVERITIES, value


@pytest.mark.parametrize("selection", [None, {"service": "bot"}], ids=["all bots", "one bot"])
def test_bot_alert_lists_follow_the_bot_variable(selection):
    """Overview lists keep the selected bots' alerts, not other bots' nor stack alerts."""
    overview = [a for a in alert_lists(selection) if a.dashboard == "overview.json"]
    assert overview
    alert = {"alertname": "BotDown", "severity": "critical"}
    for alert_list in overview:
        assert alert_list.shows(alert | {"service": "bot"}), alert_list.where
        assert alert_list.shows(alert | {"service": "bot2"}) == (selection is None)
        assert not alert_list.shows(alert)  # a stack alert: no service label


def test_severity_counts_cover_every_severity():
    """The alerts dashboard has one firing count per severity, each keeping only its severity."""
    stats = [a for a in ALERT_LISTS if a.panel["options"]["viewMode"] == "stat"]
    by_severity = {}
    for alert_list in stats:
        if alert_list.dashboard == "alerts.json":
            kept = {s for s in SEVERITIES if alert_list.shows({"alertname": "X", "severity": s})}
            assert len(kept) == 1, alert_list.where
            by_severity[kept.pop()] = alert_list.where
    assert set(by_severity) == SEVERITIES


def test_logs_level_variable_offers_every_level_label_value():
    """The Logs dashboard's `level` choices are exactly the values promtail gives the label."""
    variables = {v["name"]: v for v in _variables(DASHBOARDS["logs.json"])}
    assert variables["level"]["query"].split(",") == LEVEL_VALUES


def test_overview_links_to_logs_with_the_same_time_range():
    """The overview links to the Logs dashboard with the same time range (dashboard and panel)."""
    overview = DASHBOARDS["overview.json"]
    assert any(
        link.get("url") == "/d/botwatch-logs" and link.get("keepTime") for link in overview["links"]
    )
    panel_links = [link["url"] for p in iter_panels(overview) for link in p.get("links", [])]
    assert any(u.startswith("/d/botwatch-logs?${__url_time_range}") for u in panel_links)


# Histograms whose buckets carry exemplars: one recent command's ids per bucket (the exporter).
EXEMPLAR_HISTOGRAMS = re.compile(r"\bbot_(?:command|operation)_duration_seconds_bucket\b")
# Panel types that draw exemplars as dots.
EXEMPLAR_PANEL_TYPES = {"timeseries", "heatmap"}
# Where a slow command is spotted, hence where its dot must be clickable.
LATENCY_PANELS = {
    ("overview.json", "Command latency"),
    ("commands.json", "Latency heatmap"),
    ("commands.json", "p95 latency by command"),
}


def prometheus_targets() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(dashboard, panel, target) of every Prometheus panel target."""
    return [
        (name, panel, target)
        for name, dashboard in DASHBOARDS.items()
        for panel in iter_panels(dashboard)
        for target in panel.get("targets", [])
        if datasource_type(panel, target) == "prometheus"
    ]


def exemplar_capable(panel: dict[str, Any], target: dict[str, Any]) -> bool:
    """A range query on an exemplar-carrying histogram, in a panel that draws exemplars."""
    return (
        panel["type"] in EXEMPLAR_PANEL_TYPES
        and not target.get("instant")
        and EXEMPLAR_HISTOGRAMS.search(target["expr"]) is not None
    )


class TestExemplars:
    def test_exemplar_capable_queries_show_them(self):
        """Every range query on the command or operation latency buckets has exemplars on."""
        off = [
            f"{name} / {panel['title']} / {target['refId']}"
            for name, panel, target in prometheus_targets()
            if exemplar_capable(panel, target) and target.get("exemplar") is not True
        ]
        assert off == []

    def test_exemplars_only_where_there_are_some(self):
        """No exemplar query on recorded series or other metrics: it would only return nothing."""
        wasted = [
            f"{name} / {panel['title']} / {target['refId']}"
            for name, panel, target in prometheus_targets()
            if target.get("exemplar") and not exemplar_capable(panel, target)
        ]
        assert wasted == []

    def test_latency_panels_show_exemplars(self):
        """The latency panels of the overview and commands dashboards each show exemplars."""
        showing = {
            (name, panel["title"])
            for name, panel, target in prometheus_targets()
            if target.get("exemplar") and exemplar_capable(panel, target)
        }
        assert showing == LATENCY_PANELS


PROMQL = [q for q in queries(expanded=False) if q.language == "promql"]
LOGQL = [q for q in queries(expanded=False) if q.language == "logql"]


@pytest.mark.parametrize("query", PROMQL, ids=lambda q: q.where)
class TestPromQL:
    def test_rate_interval(self, query):
        """Ranges are $__rate_interval, or $__range in an instant query over the whole range."""
        allowed = {"$__rate_interval"} | ({"$__range"} if query.instant else set())
        for window in RANGE.findall(query.expr):
            assert window in allowed, f"[{window}] in {query.expr}"

    def test_counters_only_through_rate(self, query):
        """Counters (and histogram series) are read only through rate/irate/increase."""
        for match in COUNTER.finditer(query.expr):
            function = enclosing_function(query.expr, match.start())
            assert function in RANGE_FUNCTIONS, f"{match.group(1)} under {function!r}"

    def test_bot_selector_convention(self, query):
        """Raw bot metrics are selected with job="bot" (the one selector convention everywhere)."""
        for match in re.finditer(r"\b(bot_\w+|process_\w+)\s*\{([^}]*)\}", query.expr):
            if match.group(1).startswith("bot_"):
                assert 'job="bot"' in match.group(2), match.group(0)


@pytest.mark.parametrize("query", LOGQL, ids=lambda q: q.where)
class TestLogQL:
    def test_auto_interval(self, query):
        """Log ranges are $__auto (Grafana picks the step), or $__range in an instant query."""
        allowed = {"$__auto"} | ({"$__range"} if query.instant else set())
        windows = RANGE.findall(query.expr)
        for window in windows:
            assert window.strip() in allowed, f"[{window}] in {query.expr}"

    def test_stream_selector_uses_promtail_labels(self, query):
        """Stream selectors use only the low-cardinality labels promtail sets (DESIGN §5)."""
        selector = re.search(r"\{([^}]*)\}", query.expr).group(1)
        labels = set(re.findall(r"(\w+)\s*[=!]~?", selector))
        assert labels and labels <= LOKI_LABELS, selector


def test_every_panel_query_is_checked():
    """Every target of a Prometheus or Loki panel is one of the queries the checks above cover."""
    checked = len(PROMQL) + len(LOGQL)
    total = sum(
        1
        for d in DASHBOARDS.values()
        for p in iter_panels(d)
        for t in p.get("targets", [])
        if datasource_type(p, t) in {"prometheus", "loki"}
    )
    assert checked == total > 0
