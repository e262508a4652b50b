"""PromQL checks for tests: real syntax validation with promtool, and metric-name extraction.

`check_promql` is the authority on syntax: it writes the expressions as recording rules into a
temporary rule file and runs the real `promtool check rules`, so whatever Prometheus itself would
reject fails here too. `metric_names` is a small lexer for the cross-check "every metric a rule or
panel uses is produced by someone"; it is not a parser and trusts its input to be valid PromQL.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml

__all__ = ["PromQLError", "check_promql", "metric_names"]


class PromQLError(ValueError):
    """An expression that promtool rejects; `expr` is the offending expression."""

    def __init__(self, expr: str, detail: str) -> None:
        super().__init__(f"invalid PromQL: {expr!r}\n{detail}")
        self.expr = expr
        self.detail = detail


def _promtool_check(promtool: str, exprs: list[str]) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"check:expr_{i}:promql", "expr": expr} for i, expr in enumerate(exprs)]
    with tempfile.TemporaryDirectory(prefix="promql-") as tmp:
        path = Path(tmp) / "exprs.rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
        return subprocess.run(
            [promtool, "check", "rules", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def check_promql(promtool: str, exprs: Iterable[str]) -> None:
    """Raise PromQLError for the first expression the real promtool rejects.

    All expressions are checked in one promtool run; only when that run fails is each one
    re-checked alone, so the error names the offending expression and promtool's message.

    Example::

        check_promql(tool("promtool"), ['sum by (service) (rate(bot_commands_total[5m]))'])
    """
    exprs = list(exprs)
    if not exprs or _promtool_check(promtool, exprs).returncode == 0:
        return
    for expr in exprs:
        result = _promtool_check(promtool, [expr])
        if result.returncode != 0:
            raise PromQLError(expr, (result.stdout + result.stderr).strip())
    raise AssertionError("promtool rejected the batch but accepted every expression alone")


# Everything in a PromQL expression that is not a metric name, removed before collecting names.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME_MATCHER = re.compile(r"__name__\s*=\s*\"([^\"]+)\"")
_IDENT = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:])")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "start", "end", "atan2"}
)


def metric_names(expr: str) -> set[str]:
    """Metric names selected by a (valid) PromQL expression.

    >>> sorted(metric_names('sum by (service) (rate(bot_commands_total{status="error"}[5m]))'))
    ['bot_commands_total']
    """
    names = set(_NAME_MATCHER.findall(expr))
    text = _COMMENT.sub(" ", expr)
    text = re.sub(r"\{[^}]*\}", " ", _STRING.sub('""', text))
    text = _LABEL_LIST.sub(" ", _RANGE.sub(" ", text))
    for match in _IDENT.finditer(text):
        word = match.group(1)
        following = text[match.end() :].lstrip()
        if word.lower() in _KEYWORDS or following.startswith("("):
            continue  # an operator keyword, or a function / aggregation called here
        names.add(word)
    return names
