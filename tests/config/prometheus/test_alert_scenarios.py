"""The time-to-page table (scripts/alert_scenarios.py): measured again with the real promtool,
held to what each scenario wants, and shown in docs/prometheus.md exactly as generated."""

from __future__ import annotations

import json
from pathlib import Path

import alert_scenarios
import pytest

# Every scenario at 30-second steps, nights of 8 hours included: minutes of promtool on a
# loaded 2-core machine.
SLOW = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def measured(tool) -> list[dict]:
    return alert_scenarios.measure(Path(tool("promtool")))


def test_the_doc_table_is_generated_from_the_results_file():
    """docs/prometheus.md's table is what the script renders from docs/results/."""
    assert alert_scenarios.main(["--check"]) == 0


@SLOW
def test_the_results_file_is_what_promtool_measures_now(measured):
    """Re-running every scenario through the shipped rules gives the committed figures."""
    assert measured == json.loads(alert_scenarios.RESULTS.read_text())


@SLOW
def test_every_failure_pages_in_time_and_no_quiet_scenario_pages(measured):
    """Hard failures page within 5 minutes, a crash within 60s; nights and restarts stay quiet."""
    assert alert_scenarios.problems(measured) == []
    assert {row["expect"] for row in measured} == {"page", "ticket", "quiet"}


def test_a_late_page_and_a_page_in_a_quiet_scenario_are_problems():
    """The checker itself can fail: a page after its limit, or any page where none is wanted."""
    late = {"alert": "A", "severity": "critical", "after_seconds": 61}
    rows = [
        {"scenario": "crash", "expect": "page", "within_seconds": 60, "alerts": [late]},
        {"scenario": "night", "expect": "quiet", "within_seconds": None, "alerts": [late]},
        {"scenario": "tail", "expect": "ticket", "within_seconds": None, "alerts": []},
    ]
    assert alert_scenarios.problems(rows) == [
        "crash: paged after 61s, not within 60s",
        "night: paged (A)",
        "tail: no ticket",
    ]
