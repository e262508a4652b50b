"""`make bench`: collect every benchmark row, print the table, write .bench/results.json.

A row that misses its target fails its test, so `make bench` exits non-zero.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.bench import Results

# BOTWATCH_BENCH_RESULTS: another file, for runs of a few benchmarks side by side.
RESULTS = REPO / os.environ.get("BOTWATCH_BENCH_RESULTS", ".bench/results.json")
_run = Results()


@pytest.fixture(scope="session")
def bench() -> Results:
    """The run's results: ``bench.check(Row(...))`` records rows and asserts their targets."""
    return _run


def pytest_terminal_summary(terminalreporter) -> None:
    if not _run.rows:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(_run.as_dict(), indent=2, ensure_ascii=False) + "\n")
    terminalreporter.section("benchmarks")
    for line in _run.table():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"written to {Path(os.path.relpath(RESULTS, REPO))}")
