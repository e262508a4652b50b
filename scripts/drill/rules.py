"""The alerts the stack ships, read from the rule files (so alerts added later are found too)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_RULES = REPO / "prometheus" / "rules"
LOKI_RULES = REPO / "loki" / "rules"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def seconds(duration: str | None) -> float:
    """A Prometheus duration ("1h30m", "20s") in seconds; None or "" is 0."""
    return sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(duration or ""))


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule as shipped."""

    alert: str
    expr: str
    labels: dict[str, str]
    annotations: dict[str, str]
    for_: str
    engine: str  # "prometheus" or "loki"
    file: Path

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    @property
    def id(self) -> str:
        """Name plus the labels that tell apart rules sharing it (severity aside)."""
        extra = {k: v for k, v in self.labels.items() if k != "severity"}
        return self.alert + (
            "{" + ",".join(f"{k}={v}" for k, v in extra.items()) + "}" if extra else ""
        )


def _load(path: Path, engine: str) -> list[AlertRule]:
    data: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return [
        AlertRule(
            rule["alert"],
            rule["expr"],
            dict(rule.get("labels") or {}),
            dict(rule.get("annotations") or {}),
            str(rule.get("for") or ""),
            engine,
            path,
        )
        for group in data.get("groups") or []
        for rule in group.get("rules") or []
        if "alert" in rule
    ]


def prometheus_rule_files() -> list[Path]:
    return sorted(PROMETHEUS_RULES.glob("*.yml"))


def alert_rules() -> list[AlertRule]:
    """Every alerting rule of Prometheus and of the Loki ruler, in file order."""
    rules = [r for path in prometheus_rule_files() for r in _load(path, "prometheus")]
    return rules + [r for path in sorted(LOKI_RULES.rglob("*.y*ml")) for r in _load(path, "loki")]
