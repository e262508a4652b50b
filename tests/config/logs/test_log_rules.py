"""The Loki alert rules (loki/rules/fake/*.yml): conventions, valid LogQL, and rendered annotations.

Loki's ruler reads Prometheus' rule-file format, so the real promtool checks everything but the
LogQL: each expression is swapped for a PromQL stand-in series carrying the same labels, and
`promtool test rules` renders the annotations and exercises `for:` exactly as Loki's ruler would.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.config.logs.conftest import REPO, loki_rule_groups, loki_rules
from tests.support.logql import check_logql

SEVERITIES = {"critical", "warning", "info"}
ANNOTATIONS = {"summary", "description", "runbook_url", "dashboard_url"}


RULES = loki_rules()
ALERTS = [rule for rule in RULES if "alert" in rule]


def _ids(rules: list[dict[str, Any]]) -> list[str]:
    return [rule.get("alert") or rule.get("record") for rule in rules]


def test_the_three_log_alerts_exist():
    """Error bursts, critical lines and silent bots are each alerted on."""
    assert {"BotLogErrorBurst", "BotLogCritical", "BotLogsSilent"} <= set(_ids(ALERTS))


def test_every_expression_is_valid_logql():
    """Every rule expression parses with Grafana's LogQL grammar."""
    errors = check_logql(rule["expr"] for rule in RULES)
    assert {name: err for name, err in zip(_ids(RULES), errors, strict=True) if err} == {}


@pytest.mark.parametrize("rule", ALERTS, ids=_ids(ALERTS))
class TestConventions:
    def test_name_is_camel_case_subject_first(self, rule):
        """Alert names are CamelCase and start with their subject, the bot."""
        assert re.fullmatch(r"Bot(?:[A-Z][a-z0-9]+)+", rule["alert"])

    def test_severity_is_known(self, rule):
        """Severity is one of critical, warning, info (what Alertmanager routes on)."""
        assert rule["labels"]["severity"] in SEVERITIES

    def test_annotations_are_complete(self, rule):
        """summary, description, runbook_url and dashboard_url are all present."""
        assert set(rule["annotations"]) >= ANNOTATIONS

    def test_summary_is_short_and_plain(self, rule):
        """The summary is one short sentence without values (those go in the description)."""
        summary = rule["annotations"]["summary"]
        assert "{{" not in summary and summary.endswith(".") and len(summary) <= 60

    def test_runbook_exists(self, rule):
        """runbook_url is the relative path of the alert's own runbook page, which exists."""
        runbook = rule["annotations"]["runbook_url"]
        assert runbook == f"docs/runbooks/{rule['alert']}.md"
        assert (REPO / runbook).is_file()

    def test_dashboard_is_the_logs_dashboard(self, rule):
        """dashboard_url is a relative Grafana link to the logs dashboard."""
        assert re.fullmatch(r"d/botwatch-logs(\?.*)?", rule["annotations"]["dashboard_url"])

    def test_selects_bots_only(self, rule):
        """The expression reads bot streams ({job="bot"}), not the monitoring stack's own logs."""
        selectors = re.findall(r"\{[^}]*\}", rule["expr"])
        assert selectors and all('job="bot"' in s for s in selectors), selectors


# Stand-in series per alert: the labels its LogQL produces and a value. The absent arm of
# BotLogsSilent yields {job="bot"} with no service.
CASES = [
    ("BotLogErrorBurst", {"service": "bot"}, 42,
     "bot logged 42 error lines in the last 5m (> 20 for 2m)."),
    ("BotLogCritical", {"service": "bot"}, 3,
     "bot logged 3 critical lines in the last 5m."),
    ("BotLogsSilent", {"service": "bot"}, 1500,
     "bot has logged nothing for 10m though it logged within the last hour."),
    ("BotLogsSilent", {"job": "bot"}, 1,
     "No bot log line has reached Loki for 10m."),
]  # fmt: skip


def _minutes(duration: str | None) -> int:
    if not duration:
        return 0
    value, unit = int(duration[:-1]), duration[-1]
    return value * {"s": 1 / 60, "m": 1, "h": 60}[unit]


def _stand_in_rules(tmp: Path) -> Path:
    groups = []
    for _, group in loki_rule_groups():
        rules = [
            {**rule, "expr": f'sum without (stand_in) (logql{{stand_in="{rule["alert"]}"}})'}
            for rule in group["rules"]
            if "alert" in rule
        ]
        groups.append({**group, "rules": rules})
    out = tmp / "stand_in.rules.yml"
    out.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return out


def _render_test(tmp: Path, rules: Path, alert: str, labels: dict[str, str], value: int) -> Path:
    rule = next(r for r in ALERTS if r["alert"] == alert)
    wait = _minutes(rule.get("for"))
    series = ", ".join([f'stand_in="{alert}"', *(f'{k}="{v}"' for k, v in labels.items())])
    steps = int(wait) + 2
    base = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": f"{alert} fires after its for: with the rendered text",
                "interval": "1m",
                "input_series": [{"series": f"logql{{{series}}}", "values": f"{value}x{steps}"}],
                "alert_rule_test": [
                    # Nothing while the for: has not passed yet ...
                    *(
                        [{"eval_time": f"{int(wait) - 1}m", "alertname": alert, "exp_alerts": []}]
                        if wait >= 1
                        else []
                    ),
                    # ... and firing with the full text right after.
                    {
                        "eval_time": f"{int(wait) + 1}m",
                        "alertname": alert,
                        "exp_alerts": [{"exp_labels": {**labels, **rule["labels"]}}],
                    },
                ],
            }
        ],
    }
    out = tmp / f"{alert}-{len(labels)}.test.yml"
    out.write_text(yaml.safe_dump(base, sort_keys=False))
    return out


def test_rule_files_pass_promtool_with_stand_ins(tool, tmp_path):
    """The rule files are valid Prometheus-format rules: groups, for:, labels, templates."""
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(_stand_in_rules(tmp_path))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("alert", "labels", "value", "description"), CASES)
def test_annotations_render(tool, tmp_path, alert, labels, value, description):
    """The alert fires only after its for: and renders the documented description and links."""
    rules = _stand_in_rules(tmp_path)
    test = _render_test(tmp_path, rules, alert, labels, value)
    rule = next(r for r in ALERTS if r["alert"] == alert)
    spec = yaml.safe_load(test.read_text())
    expected = spec["tests"][0]["alert_rule_test"][-1]["exp_alerts"][0]
    service = labels.get("service", "")
    expected["exp_annotations"] = {
        "summary": rule["annotations"]["summary"],
        "description": description,
        "runbook_url": f"docs/runbooks/{alert}.md",
        "dashboard_url": rule["annotations"]["dashboard_url"].replace(
            "{{ $labels.service }}", service
        ),
    }
    test.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run(
        [tool("promtool"), "test", "rules", str(test)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
