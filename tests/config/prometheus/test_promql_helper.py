"""tests/support/promql.py: promtool-backed validation and the metric-name lexer."""

from __future__ import annotations

import pytest

from tests.support.promql import PromQLError, check_promql, metric_names


def test_valid_expressions_pass(tool):
    """Valid PromQL, including recording-rule names and Prometheus 3 functions, passes."""
    check_promql(
        tool("promtool"),
        [
            'sum by (service) (rate(bot_commands_total{job="bot"}[5m]))',
            "service:bot_command_errors:ratio_rate1h > 0.1",
            'quantile_over_time(0.5, bot_gateway_latency_seconds{job="bot"}[5m])',
        ],
    )


def test_empty_input_passes(tool):
    """No expressions is not an error (a dashboard without PromQL panels)."""
    check_promql(tool("promtool"), [])


def test_invalid_expression_is_named(tool):
    """Among valid ones, the broken expression is the one reported, with promtool's message."""
    broken = "sum(rate(bot_commands_total[5m])"
    with pytest.raises(PromQLError) as raised:
        check_promql(tool("promtool"), ["up", broken, "vector(1)"])
    assert raised.value.expr == broken
    assert "parse error" in raised.value.detail


def test_removed_function_is_rejected(tool):
    """holt_winters, gone in Prometheus 3, is rejected like Prometheus itself would."""
    with pytest.raises(PromQLError):
        check_promql(tool("promtool"), ["holt_winters(up[1h], 0.5, 0.5)"])


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('rate(bot_commands_total{status="error"}[5m])', {"bot_commands_total"}),
        (
            "sum by (service, le) (rate(x_bucket[5m])) / on (service) group_left () y:z:rate5m",
            {"x_bucket", "y:z:rate5m"},
        ),
        ('label_replace(up, "failure", "compaction", "", "")', {"up"}),
        (
            "time() - process_start_time_seconds offset 5m > 6 * 3600",
            {"process_start_time_seconds"},
        ),
        ('{__name__="foo_total", job="bot"} and bool 1e9', {"foo_total"}),
        ("vector(1)", set()),
    ],
)
def test_metric_names(expr, names):
    """Only metric names come out: no functions, labels, keywords, strings, numbers or durations."""
    assert metric_names(expr) == names
