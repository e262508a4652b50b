"""The README benchmark tables, generated from the committed results file (never typed by hand).

    python3 scripts/bench_tables.py            rewrite the tables from tests/bench/results.json
    python3 scripts/bench_tables.py --publish [FILE...]  first merge the last `make bench` run
                                               (.bench/results.json, or FILEs) into it, row by row
    python3 scripts/bench_tables.py --check    exit 1 if a README table differs (a test runs this)

A table sits between ``<!-- bench-table: GROUP -->`` and ``<!-- /bench-table -->`` in a README;
GROUP is ``all`` or one row group (``exporter``, ``alerting``, ...).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

COMMITTED = REPO / "tests" / "bench" / "results.json"
LAST_RUN = REPO / ".bench" / "results.json"
READMES = (REPO / "README.md", REPO / "exporter" / "README.md")
BLOCK = re.compile(r"(<!-- bench-table: (\S+) -->\n)(.*?)(<!-- /bench-table -->)", re.S)


def fmt(value: float | None, unit: str) -> str:
    """A figure in its unit, readable: µs/ms/s, KiB/MiB, %."""
    if value is None:
        return "-"
    if unit == "s":
        if abs(value) >= 1:
            return f"{value:.2f} s"
        if abs(value) >= 1e-3:
            return f"{value * 1e3:.2f} ms"
        return f"{value * 1e6:.2f} µs"
    if unit == "bytes":
        if abs(value) >= 1 << 20:
            return f"{value / (1 << 20):.1f} MiB"
        return f"{value / 1024:.0f} KiB"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:g} {unit}"


def ratio_text(row: dict) -> str:
    """The ratio column of a row in the results file: ``1.21×`` or ``+0.3 ms``."""
    if row["ratio"] is None:
        return "-"
    if row["target"].startswith("≤ +"):
        added = row["ours"] - row["baseline"]
        return ("+" if added >= 0 else "−") + fmt(abs(added), row["unit"])
    return f"{row['ratio']:.2f}×"


def merge(committed: dict, run: dict) -> dict:
    """The committed rows with the run's rows replacing those of the same case, run's order."""
    fresh = {row["case"]: row for row in run["rows"]}
    kept = [row for row in committed["rows"] if row["case"] not in fresh]
    return {"rows": kept + list(fresh.values())}


def _machine(m: dict) -> str:
    return f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['system']}"


def table(results: dict, group: str) -> str:
    """A Markdown table of the group's rows, then where and when they were measured."""
    rows = [r for r in results["rows"] if group == "all" or r["group"] == group]
    lines = [
        "| Case | botwatch | Baseline | Ratio | Target | Result |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        baseline = f"{fmt(r['baseline'], r['unit'])}: {r['baseline_name']}"
        lines.append(
            f"| {r['case']} | {fmt(r['ours'], r['unit'])} | {baseline} | {ratio_text(r)} "
            f"| {r['target']} | {r['result']} |"
        )
    notes = [f"- {r['case']}: {r['note']}" for r in rows if r.get("note")]
    machines = sorted({(r["measured"][:10], _machine(r["machine"])) for r in rows})
    where = "; ".join(f"{when} on {m}" for when, m in machines)
    notes_block = "\n".join(notes) + "\n\n" if notes else ""
    return "\n".join(lines) + "\n\n" + notes_block + f"Measured {where}.\n"


def render(text: str, results: dict) -> str:
    """``text`` with every bench-table block regenerated."""
    return BLOCK.sub(lambda m: m[1] + table(results, m[2]) + m[4], text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--publish", action="store_true", help="merge .bench/results.json first")
    mode.add_argument("--check", action="store_true", help="only report stale tables")
    parser.add_argument("runs", nargs="*", type=Path, help="results files to --publish")
    args = parser.parse_args(argv)
    results = json.loads(COMMITTED.read_text()) if COMMITTED.exists() else {"rows": []}
    if args.publish:
        for run in args.runs or [LAST_RUN]:
            results = merge(results, json.loads(run.read_text()))
        COMMITTED.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    stale = []
    for readme in READMES:
        text = readme.read_text()
        fresh = render(text, results)
        if fresh != text:
            stale.append(readme.relative_to(REPO))
            if not args.check:
                readme.write_text(fresh)
    if args.check and stale:
        print(f"stale benchmark tables in {', '.join(map(str, stale))}: run {sys.argv[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
