"""Rule files: real promtool checks and unit tests, and the contract every alert must meet."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from stackctl import profiles

from tests.config.logs.conftest import loki_rules
from tests.config.prometheus.conftest import (
    RULES,
    RUNBOOKS,
    UNIT_TESTS,
    alert_cases,
    alerts,
    load_yaml,
    rule_files,
    rules,
    unit_test_files,
)
from tests.support.exporter_metrics import exporter_metric_names
from tests.support.grafana_dashboards import iter_panels, load_dashboards
from tests.support.promql import metric_names
from tests.support.stack_metrics import stack_metric_names

DASHBOARDS = {
    "botwatch-overview",
    "botwatch-commands",
    "botwatch-logs",
    "botwatch-alerts",
    "botwatch-stack",
}
# Alerts about absence have no measured value to print; all others must show theirs.
NO_VALUE = {"BotTargetMissing", "LogShipperDown", "Watchdog"}
# The dead man's switch fires by definition; it has no near miss.
ALWAYS_FIRING = {"Watchdog"}
RUNBOOK_SECTIONS = (
    "What it means",
    "User impact",
    "Diagnose",
    "Fix",
    "Silence responsibly",
    "Drill",
)
ALERT_IDS = sorted({rule.alert for rule in alerts()})
# Runbooks hold the Loki ruler's alerts to the same sections as the metric ones.
RUNBOOK_IDS = sorted(set(ALERT_IDS) | {rule["alert"] for rule in loki_rules() if "alert" in rule})


def _promtool(tool, *args: str) -> str:
    result = subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, check=False, timeout=540
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_promtool_check_rules(tool):
    """promtool check rules --lint=all accepts every rule file."""
    _promtool(tool, "check", "rules", "--lint=all", *map(str, rule_files()))


# One promtool run per file: each gets its own time budget, and a failure names its file.
@pytest.mark.parametrize("test_file", unit_test_files(), ids=lambda path: path.name)
def test_promtool_unit_tests_pass(tool, test_file):
    """The promtool unit test file passes."""
    output = _promtool(tool, "test", "rules", str(test_file))
    assert "SUCCESS" in output


def test_every_rule_file_has_its_test_file():
    """x.rules.yml is tested by tests/x.test.yml, which loads it; no test file without rules."""
    assert len(rule_files()) == 4
    for path in rule_files():
        test_file = UNIT_TESTS / path.name.replace(".rules.yml", ".test.yml")
        assert test_file.exists(), f"{path.name} has no {test_file.name}"
        assert f"../rules/{path.name}" in load_yaml(test_file)["rule_files"]
    assert {p.name.split(".")[0] for p in unit_test_files()} == {
        p.name.split(".")[0] for p in rule_files()
    }


def test_every_rule_has_a_comment_above_it():
    """The line above each `- alert:` / `- record:` is a comment (threshold, why, how to tune)."""
    for path in rule_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if re.match(r"\s*- (alert|record):", line):
                assert lines[number - 1].strip().startswith("#"), f"{path.name}:{number + 1}"


@pytest.mark.parametrize("name", ALERT_IDS)
def test_alert_labels_and_annotations(name):
    """Severity, summary without values, description with value, runbook and dashboard links."""
    for rule in (r for r in alerts() if r.alert == name):
        assert rule.labels.get("severity") in {"critical", "warning", "info"}
        notes = rule.annotations
        assert set(notes) == {"summary", "description", "runbook_url", "dashboard_url"}
        assert "{{" not in notes["summary"] and notes["summary"].endswith(".")
        if name not in NO_VALUE:
            assert "$value" in notes["description"]
        assert notes["runbook_url"] == f"docs/runbooks/{name}.md"
        uid = re.fullmatch(r"d/([\w-]+)(\?.*)?", notes["dashboard_url"])
        assert uid and uid.group(1) in DASHBOARDS, notes["dashboard_url"]


@pytest.mark.parametrize("name", ALERT_IDS)
def test_alert_has_firing_and_quiet_cases(name):
    """Each alert rule fires in a unit test with full annotations, and some case expects silence.

    Rules sharing a name (the SLO window pairs) are told apart by their static labels, so each
    pair needs a firing case of its own.
    """
    cases = [case for case in alert_cases() if case["alertname"] == name]
    fired = [alert for case in cases for alert in case.get("exp_alerts") or []]
    quiet = any(not case.get("exp_alerts") for case in cases)
    assert quiet or name in ALWAYS_FIRING, f"{name}: no near-miss case"
    for rule in (r for r in alerts() if r.alert == name):
        matching = [a for a in fired if rule.labels.items() <= a["exp_labels"].items()]
        assert matching, f"{name} {rule.labels}: no firing case"
        for alert in matching:
            assert set(alert["exp_annotations"]) == set(rule.annotations)


@pytest.mark.parametrize("name", RUNBOOK_IDS)
def test_alert_has_a_runbook_with_every_section(name):
    """docs/runbooks/<alert>.md exists with the sections an on-call reader needs, metric and log
    alerts alike.

    Diagnose names the dashboard, a LogQL query and shell commands; Drill the command that makes
    the alert fire on purpose.
    """
    path = RUNBOOKS / f"{name}.md"
    assert path.exists(), f"missing runbook {path.relative_to(RUNBOOKS.parent.parent)}"
    text = path.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings == list(RUNBOOK_SECTIONS)
    diagnose = text.split("## Diagnose", 1)[1].split("## Fix", 1)[0]
    assert "d/botwatch-" in diagnose
    assert "```logql" in diagnose
    assert "```sh" in diagnose
    assert f"make drill ALERT={name}" in text.split("## Drill", 1)[1]


def test_recording_rules_follow_level_metric_operation():
    """Recording rules are named level:metric:operation and never collide."""
    names = [rule.record for rule in rules() if rule.record]
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", name), name


def test_every_metric_in_a_rule_is_produced():
    """Each metric a rule reads comes from the exporter, a stack component or a recording rule
    (committed, or rendered by `make up`: the expected log shipper)."""
    rendered = yaml.safe_load(profiles.log_shipper_rules({}))["groups"]
    recorded = {rule.record for rule in rules() if rule.record}
    recorded |= {rule["record"] for group in rendered for rule in group["rules"]}
    known = exporter_metric_names() | stack_metric_names() | recorded
    used = {
        (name, rule.alert or rule.record)
        for rule in rules()
        for name in metric_names(rule.body["expr"])
    }
    assert {(name, where) for name, where in used if name not in known} == set()
    assert {name for name, _ in used} >= {
        "bot_commands_total",
        "up",
        "alertmanager_notifications_failed_total",
    }


def test_fixed_recording_rule_names_exist():
    """The names dashboards and the brief rely on are all defined."""
    recorded = {rule.record for rule in rules() if rule.record}
    windows = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    per_window = {
        f"service:{sli}:{kind}{w}"
        for w in windows
        for sli, kind in (
            ("bot_slo_commands", "rate"),
            ("bot_command_errors", "ratio_rate"),
            ("bot_command_errors", "burn_rate"),
            ("bot_command_slow", "ratio_rate"),
            ("bot_command_slow", "burn_rate"),
        )
    }
    budgets = {
        "service:bot_command_errors:ratio_rate30d",
        "service:bot_command_slow:ratio_rate30d",
        "service:bot_slo_latency_objective:ratio",
        "service:bot_slo_latency_budget_remaining:ratio",
    }
    assert recorded >= per_window | budgets | {
        "service:bot_commands:rate5m",
        "service_status:bot_commands:rate5m",
        "service_command:bot_commands:rate5m",
        "service:bot_slo_objective:ratio",
        "service:bot_slo_error_budget_remaining:ratio",
        "service:bot_command_duration_seconds:p50_rate5m",
        "service:bot_command_duration_seconds:p95_rate5m",
        "service:bot_command_duration_seconds:p99_rate5m",
        "service_command:bot_command_duration_seconds:p95_rate5m",
        "service:bot_event_loop_lag_seconds:p99_rate5m",
        "service_level:bot_log_records:rate5m",
    }


@pytest.mark.parametrize(
    ("objective", "holder"),
    [
        ("0.995", "service:bot_slo_objective:ratio"),
        ("0.99 ", "service:bot_slo_latency_objective:ratio"),
    ],
)
def test_slo_objective_is_set_in_one_place(objective, holder):
    """Each objective appears in exactly one expression, its own rule; everything else derives."""
    holders = [rule.record or rule.alert for rule in rules() if objective in rule.body["expr"]]
    assert holders == [holder]


def test_burn_rate_math_is_written_once_per_window():
    """Only the burn-rate rules divide by the allowed ratio; alerts and panels read them."""
    dividers = [
        rule.record or rule.alert
        for rule in rules()
        if "(1 - service:bot_slo" in rule.body["expr"]
        and "budget_remaining" not in (rule.record or "")
    ]
    assert dividers and all(":burn_rate" in name for name in dividers), dividers
    panel_math = [
        target["expr"]
        for dashboard in load_dashboards().values()
        for panel in iter_panels(dashboard)
        for target in panel.get("targets", [])
        if "(1 - service:bot_slo" in target.get("expr", "")
    ]
    assert panel_math == []


def test_notification_failure_alert_is_per_integration():
    """AlertmanagerNotificationsFailing keeps `integration` so failover routing can use it."""
    (rule,) = [r for r in alerts() if r.alert == "AlertmanagerNotificationsFailing"]
    assert "integration" in re.search(r"by \(([^)]*)\)", rule.body["expr"]).group(1)


def test_rules_folder_holds_only_rule_files():
    """Prometheus loads rules/*.yml: every file there is a tested x.rules.yml."""
    assert sorted(RULES.glob("*.yml")) == rule_files()


def test_runbook_index_lists_every_alert_with_its_severity():
    """docs/runbooks/README.md has a row per Prometheus alert linking its page, severities right."""
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for name in ALERT_IDS:
        severities = " / ".join(
            dict.fromkeys(r.labels["severity"] for r in alerts() if r.alert == name)
        )
        assert f"| [{name}]({name}.md) | {severities} |" in index, name
