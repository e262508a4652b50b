"""The benchmark framework: rows, targets, side-by-side timing, the results file.

A row is one claim, measured against a named baseline in the same process and run:

    row = Row("command hook, prefix", ours=2.1e-6, baseline=1.7e-6,
              baseline_name="bare prometheus-client inc + observe", unit="s",
              target=Ratio(1.3))

Every row has a target (there are no "info" rows); a row that misses it reads FAIL, fails
its test and makes `make bench` exit non-zero. The `bench` fixture (tests/bench/conftest.py)
collects the rows of a run, prints the table and writes `.bench/results.json`;
`scripts/bench_tables.py --publish` commits a run's results as tests/bench/results.json and
regenerates the README tables from it.

Add a row from any benchmark file in tests/bench/:

    def test_ingest(bench):
        bench.check(Row("ingest: 1k samples/s", ours=..., baseline=..., ...))
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench_tables import fmt, ratio_text  # scripts/: the README tables format figures alike

REPEATS = int(os.environ.get("BOTWATCH_BENCH_REPEATS", "11"))


# -- targets --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ratio:
    """ours / baseline ≤ limit."""

    limit: float

    def met(self, ours: float, baseline: float | None) -> bool:
        return baseline is not None and baseline > 0 and ours / baseline <= self.limit

    def describe(self, unit: str) -> str:
        return f"≤ {self.limit:g}×"


@dataclass(frozen=True)
class Added:
    """ours - baseline ≤ limit (in the row's unit)."""

    limit: float

    def met(self, ours: float, baseline: float | None) -> bool:
        return baseline is not None and ours - baseline <= self.limit

    def describe(self, unit: str) -> str:
        return f"≤ +{fmt(self.limit, unit)}"


@dataclass(frozen=True)
class AtMost:
    """ours ≤ limit (the baseline is shown for scale)."""

    limit: float

    def met(self, ours: float, baseline: float | None) -> bool:
        return ours <= self.limit

    def describe(self, unit: str) -> str:
        return f"≤ {fmt(self.limit, unit)}"


@dataclass(frozen=True)
class All:
    """Every one of several targets."""

    targets: tuple[Ratio | Added | AtMost, ...]

    def met(self, ours: float, baseline: float | None) -> bool:
        return all(t.met(ours, baseline) for t in self.targets)

    def describe(self, unit: str) -> str:
        return " and ".join(t.describe(unit) for t in self.targets)


Target = Ratio | Added | AtMost | All


# -- rows -----------------------------------------------------------------------------------
@dataclass
class Row:
    """One measured claim: ours vs a named baseline, measured in the same run."""

    case: str
    ours: float
    baseline: float | None
    baseline_name: str
    unit: str  # "s", "bytes", "%"
    target: Target
    group: str = "exporter"  # which README table shows it (README shows every group)
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.target.met(self.ours, self.baseline)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline <= 0:
            return None
        return self.ours / self.baseline

    def as_dict(self) -> dict:
        d = asdict(self)
        d["target"] = self.target.describe(self.unit)
        d["ratio"] = self.ratio
        d["result"] = "pass" if self.passed else "FAIL"
        return d

    def describe(self) -> str:
        return (
            f"{self.case}: ours {fmt(self.ours, self.unit)}, {self.baseline_name} "
            f"{fmt(self.baseline, self.unit)}, target {self.target.describe(self.unit)}"
        )


# -- timing ---------------------------------------------------------------------------------
def per_op(fn: Callable[[], object], n: int, settle: Callable[[], object] = lambda: None) -> float:
    """Seconds per call of ``fn``, including ``settle()`` (work ``fn`` left to a thread)."""
    started = time.perf_counter()
    for _ in range(n):
        fn()
    settle()
    return (time.perf_counter() - started) / n


def side_by_side(
    ours: Callable[[], float], base: Callable[[], float], repeats: int = REPEATS
) -> tuple[float, float]:
    """Medians of ``repeats`` interleaved runs of two measurements, after one warm-up each."""
    ours()
    base()
    a, b = [], []
    for _ in range(repeats):
        a.append(ours())
        b.append(base())
    return statistics.median(a), statistics.median(b)


async def side_by_side_async(
    ours: Callable[[], Awaitable[float]],
    base: Callable[[], Awaitable[float]],
    repeats: int = REPEATS,
    *,
    mirrored: bool = False,
) -> tuple[float, float]:
    """:func:`side_by_side` for measurements that run in the event loop.

    ``mirrored``: each repeat runs ours, base, then base, ours (medians of ``2 * repeats`` runs
    each), so a change in the machine's load during a repeat weighs on both alike. For a ratio
    close to 1: with many short runs, the median is steadier than with a few long ones.
    """
    await ours()
    await base()
    a, b = [], []
    for _ in range(repeats):
        a.append(await ours())
        b.append(await base())
        if mirrored:
            b.append(await base())
            a.append(await ours())
    return statistics.median(a), statistics.median(b)


# -- the results file -----------------------------------------------------------------------
def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


@dataclass
class Results:
    """The rows of one `make bench` run."""

    rows: list[Row] = field(default_factory=list)

    def check(self, *rows: Row) -> None:
        """Record ``rows``; then fail the calling test (with figures) if any missed its target."""
        cases = {r.case for r in rows}
        self.rows = [r for r in self.rows if r.case not in cases] + list(rows)
        missed = [f"FAIL: {r.describe()}" for r in rows if not r.passed]
        assert not missed, "\n".join(missed)

    def as_dict(self) -> dict:
        """The results file: every row with when and where it was measured."""
        where = machine()
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"rows": [r.as_dict() | {"measured": when, "machine": where} for r in self.rows]}

    def table(self) -> list[str]:
        """The rows as an aligned text table."""
        header = ("case", "ours", "baseline", "ratio", "target", "result")
        lines = []
        for r in self.rows:
            d = r.as_dict()
            ours, base = fmt(r.ours, r.unit), fmt(r.baseline, r.unit)
            lines.append((r.case, ours, base, ratio_text(d), d["target"], d["result"]))
        widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
        return [
            "  ".join(str(c).ljust(w) for c, w in zip(x, widths, strict=True)).rstrip()
            for x in [header, *lines]
        ]
