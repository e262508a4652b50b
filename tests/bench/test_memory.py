"""Benchmark: the memory botwatch costs a bot, and that it does not grow (issue 11).

Each measurement runs in a fresh process (tests/bench/memory_probe.py), medians of runs:

- setup()+instrument(): RSS after importing botwatch, setting it up and instrumenting a
  bot, vs. the same process before (discord.py imported and the bot created). ≤ +25 MiB.
- per 1,000 live series: command series bound through botwatch (cardinality guard
  included) vs. the same series bound on bare prometheus-client. ≤ 1.5×.
- soak: RSS at the end of a run at 1,000 commands/s, every command a new name (the guard
  at its cap, everything past it in ``other``), vs. RSS after the warm-up (the first
  tenth). ≤ 1.05× (≤ 5 % growth).

    BOTWATCH_BENCH_SOAK_SECONDS=600 …    the soak's length (default 600: 10 minutes)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.support.bench import Added, Ratio, Row

SOAK_SECONDS = float(os.environ.get("BOTWATCH_BENCH_SOAK_SECONDS", "600"))
RUNS = 5
SERIES = 10_000


def _probe(*args: str, timeout: float = 120) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.memory_probe", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return json.loads(out.stdout)


def test_setup_and_series_memory(bench):
    """setup()+instrument() costs ≤ 25 MiB of RSS, and a series ≤ 1.5× prometheus-client's own."""
    setups = [_probe("setup") for _ in range(RUNS)]
    ours, theirs = [], []
    for _ in range(RUNS):
        for kind, into in (("botwatch", ours), ("client", theirs)):
            run = _probe("series", kind, str(SERIES))
            into.append((run["after"] - run["before"]) * 1000 / run["series"])
    bench.check(
        Row(
            "memory: setup() + instrument()",
            statistics.median(s["after"] for s in setups),
            statistics.median(s["before"] for s in setups),
            "the bot's process before (discord.py imported, bot created)",
            "bytes",
            Added(25 << 20),
        ),
        Row(
            "memory: per 1,000 live series",
            statistics.median(ours),
            statistics.median(theirs),
            "the same series on bare prometheus-client",
            "bytes",
            Ratio(1.5),
        ),
    )


@pytest.mark.timeout(SOAK_SECONDS + 600)
def test_soak_at_the_cap(bench):
    """Ten minutes at 1,000 commands/s past the cardinality cap grow RSS by ≤ 5 % after warm-up."""
    samples = _probe("soak", str(SOAK_SECONDS), timeout=SOAK_SECONDS + 300)["rss"]
    warm = max(1, len(samples) // 10)
    end = statistics.median(samples[-5:])
    row = Row(
        f"memory: {SOAK_SECONDS / 60:g}-minute soak at 1,000 commands/s, guard at its cap",
        end,
        samples[warm - 1],
        "RSS after the warm-up (first tenth)",
        "bytes",
        Ratio(1.05),
    )
    bench.check(row)
