"""Every dashboard query checked by the real parsers; each metric it names produced somewhere."""

from __future__ import annotations

import re

from tests.config.prometheus.conftest import rules
from tests.support.exporter_metrics import exporter_metric_names
from tests.support.grafana_dashboards import queries, variable_selectors
from tests.support.logql import check_logql
from tests.support.promql import check_promql, metric_names
from tests.support.stack_metrics import stack_metric_names

QUERIES = queries()
PROMQL = [q for q in QUERIES if q.language == "promql"]
LOGQL = [q for q in QUERIES if q.language == "logql"]


def recording_rule_names() -> set[str]:
    """Every `record:` name in prometheus/rules/*.yml."""
    return {rule.record for rule in rules() if rule.record}


def test_promql_parses_with_promtool(tool):
    """Every PromQL panel query and variable selector (variables filled in) passes promtool."""
    exprs = [q.expr for q in PROMQL] + [selector for _, selector in variable_selectors()]
    assert len(exprs) > 50
    check_promql(tool("promtool"), exprs)


def test_logql_parses_with_grafanas_grammar():
    """Every LogQL panel query, variables filled in, parses with Grafana's own LogQL grammar."""
    assert LOGQL
    results = zip(LOGQL, check_logql(q.expr for q in LOGQL), strict=True)
    assert {q.where: error for q, error in results if error} == {}


def test_every_metric_is_produced():
    """Each metric a panel or variable names comes from the exporter, a rule or the stack."""
    known = exporter_metric_names() | recording_rule_names() | stack_metric_names()
    used: dict[str, str] = {}
    for query in PROMQL:
        used |= dict.fromkeys(metric_names(query.expr), query.where)
    for where, selector in variable_selectors():
        used |= dict.fromkeys(metric_names(selector), where)
    dangling = {name: where for name, where in used.items() if name not in known}
    assert dangling == {}


def test_recording_rules_used_exist_in_the_rule_files():
    """Dashboards use recording rules by their level:metric:operation names, all defined."""
    used = {name for q in PROMQL for name in metric_names(q.expr) if ":" in name}
    assert used
    assert used <= recording_rule_names()


def test_command_ratios_leave_cancelled_commands_out():
    """A ratio of commands counts every status but `cancelled` below the line, as the SLO does
    (a command cancelled at shutdown is nobody's fault): each bot_commands_total selector in it
    picks a status, or excludes cancelled."""
    ratios = [q for q in queries() if "bot_commands_total" in q.expr and " / " in q.expr]
    assert ratios
    unfiltered = [
        (q.where, selector)
        for q in ratios
        for selector in re.findall(r"bot_commands_total\{([^}]*)\}", q.expr)
        if not re.search(r'status="\w+"|status!="cancelled"', selector)
    ]
    assert unfiltered == []
