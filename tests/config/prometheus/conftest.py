"""Loaders for the Prometheus configuration, rule files and promtool unit tests under test."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS = REPO / "prometheus"
RULES = PROMETHEUS / "rules"
UNIT_TESTS = PROMETHEUS / "tests"
RUNBOOKS = REPO / "docs" / "runbooks"


@dataclass(frozen=True)
class Rule:
    """One alerting or recording rule, with where it lives."""

    file: Path
    group: str
    body: dict = field(hash=False)

    @property
    def alert(self) -> str | None:
        return self.body.get("alert")

    @property
    def record(self) -> str | None:
        return self.body.get("record")

    @property
    def labels(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.body.get("labels") or {}).items()}

    @property
    def annotations(self) -> dict[str, str]:
        return self.body.get("annotations") or {}


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.rules.yml"))


def unit_test_files() -> list[Path]:
    return sorted(UNIT_TESTS.glob("*.test.yml"))


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[Rule]:
    return [
        Rule(path, group["name"], rule)
        for path in rule_files()
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    ]


def alerts() -> list[Rule]:
    return [rule for rule in rules() if rule.alert]


def alert_cases() -> list[dict]:
    """Every alert_rule_test entry of every promtool unit test file."""
    return [
        case
        for path in unit_test_files()
        for group in load_yaml(path)["tests"]
        for case in group.get("alert_rule_test", [])
    ]
