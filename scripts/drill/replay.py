"""Replay a drill's real samples, slowed down, to `promtool test rules`.

Some alerts need hours (BotMemoryLeak: 6h of uptime, a 6h trend, `for: 1h`). Their drill runs for a
couple of minutes on the real Prometheus; the samples it scraped are read back on a 1 s grid and
written as promtool input series whose interval is k seconds: the run is replayed k times slower,
against the shipped rule files, unchanged. Slowing down a recording changes what depends on the
clock, so exactly those values are rescaled, and nothing else:

- counters (and histogram buckets, counts, sums) are multiplied by k, so every rate stays the rate
  the drill really produced;
- timestamps (`*_timestamp_seconds`, `process_start_time_seconds`) move with the slowed clock;
- periods (`*_interval_seconds`, a loop's configured period) are multiplied by k, like the time
  between the iterations they describe.

Durations of single operations (latencies, lag) stay as measured: a slow command is no slower for
being replayed slowly. A sample missing on the grid (the process was down) stays missing (`_`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import promapi

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")
# Replayed samples at most 150 s apart: Prometheus' 5m look-back then bridges one lost scrape, as
# it does live, instead of turning it into a gap that restarts every `for:`.
MAX_SPACING = 150


@dataclass
class Recording:
    """Samples of some series on a grid of `step` s from `start`; None where there was none."""

    start: float
    steps: int
    step: float
    series: list[tuple[dict[str, str], list[float | None]]]


def _recordings(rule_files: Iterable[Path]) -> dict[str, list[tuple[str, Path]]]:
    """Each recorded series' name → the (expression, file) of every rule recording it."""
    recorded: dict[str, list[tuple[str, Path]]] = {}
    for path in rule_files:
        for group in yaml.safe_load(path.read_text()).get("groups") or []:
            for rule in group.get("rules") or []:
                if "record" in rule:
                    recorded.setdefault(rule["record"], []).append((rule["expr"], path))
    return recorded


def _names(expr: str, recorded: Mapping[str, list[tuple[str, Path]]]) -> set[str]:
    """Every identifier an expression reads, through the recording rules it uses (a superset)."""
    names: set[str] = set()
    todo = [expr]
    while todo:
        for name in _NAME.findall(todo.pop()):
            if name in recorded and name not in names:
                todo.extend(expr for expr, _ in recorded[name])
            names.add(name)
    return names


def scraped_names(rule_files: Iterable[Path], expr: str) -> set[str]:
    """The scraped metric names an expression reads, through the recording rules it uses (a
    superset: every identifier counts). The series the rules write themselves are left out: the
    replay recomputes them."""
    recorded = _recordings(rule_files)
    names = _names(expr, recorded)
    return {n for n in names if n not in recorded and not n.startswith("ALERTS")}


def rule_files_for(rule_files: Iterable[Path], own: Path, expr: str) -> list[Path]:
    """The rule files a replay of one alert loads: its own and those recording a series it reads
    (whole files, so each group keeps its order). The others cannot change the alert and would
    only cost promtool time: the SLO file's day-long windows, for an alert that reads none."""
    recorded = _recordings(rule_files)
    used = {path for name in _names(expr, recorded) for _, path in recorded.get(name, [])}
    return sorted({own, *used})


def record(
    prometheus: str, selector: str, names: set[str], start: float, end: float, step: float = 1.0
) -> Recording:
    """Read back what Prometheus scraped from one drill subject (on a grid of its scrape
    interval), for the names the rules read."""
    steps = int((end - start) / step) + 1
    series = []
    for result in promapi.query_range(prometheus, "{" + selector + "}", start, end, step):
        labels = result["metric"]
        if labels.get("__name__") not in names:
            continue
        values: list[float | None] = [None] * steps
        for at, value in result["values"]:
            index = round((float(at) - start) / step)
            if 0 <= index < steps:
                values[index] = float(value)
        series.append((labels, values))
    return Recording(start, steps, step, series)


def _rescale(name: str, value: float, start: float, k: int) -> float:
    if name.endswith(COUNTER_SUFFIXES) or name.endswith("_interval_seconds"):
        return value * k
    if name.endswith("_timestamp_seconds") or name == "process_start_time_seconds":
        return (value - start) * k  # promtool's clock starts at 0 where the recording started
    return value


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _series_line(labels: Mapping[str, str]) -> str:
    name = labels["__name__"]
    body = ", ".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{body}}}"


def input_series(recording: Recording, k: int) -> list[dict[str, str]]:
    """promtool input_series for the recording slowed down k times (stretched values only where
    the clock matters, see the module's docstring)."""
    out = []
    for labels, values in recording.series:
        name = labels["__name__"]
        text = " ".join(
            "_" if v is None else repr(_rescale(name, v, recording.start, k)) for v in values
        )
        out.append({"series": _series_line(labels), "values": text})
    return out


def _matchers(labels: Mapping[str, str]) -> str:
    return ", ".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))


def promtool_test(
    rule_files: list[Path], recording: Recording, k: int, expected: Mapping[str, str]
) -> dict:
    """A promtool test file: the alert with `expected` labels fired at some point of the slowed
    run, and is no longer firing at its end.

    Both claims are PromQL over the ALERTS series the rules themselves wrote during the replay.
    """
    spacing = int(recording.step * k)
    if spacing > MAX_SPACING:
        raise ValueError(f"stretch {k} spaces samples {spacing}s apart (> {MAX_SPACING}s)")
    end = (recording.steps - 1) * spacing
    selector = _matchers({**expected, "alertstate": "firing"})
    keys = ", ".join(sorted(expected))
    return {
        "rule_files": [str(p) for p in rule_files],
        "evaluation_interval": f"{spacing}s",
        "tests": [
            {
                "name": f"{expected['alertname']} replayed {k}x slower",
                "interval": f"{spacing}s",
                "input_series": input_series(recording, k),
                "promql_expr_test": [
                    {
                        "expr": f"max by ({keys}) (max_over_time(ALERTS{{{selector}}}[{end}s]))",
                        "eval_time": f"{end}s",
                        "exp_samples": [{"labels": "{" + _matchers(expected) + "}", "value": 1}],
                    },
                    {"expr": f"ALERTS{{{selector}}}", "eval_time": f"{end}s", "exp_samples": []},
                ],
            }
        ],
    }
