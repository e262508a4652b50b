"""Time to page, per failure mode, from the shipped rules: each scenario run through promtool.

`python3 scripts/alert_scenarios.py` builds every scenario below as the series a bot would expose
(sampled every 30 s), runs them all through `promtool test rules` with the shipped bot and SLO
rule files at 30-second evaluation steps, reads back when each alert first fired, writes
docs/results/alert_scenarios.json and rewrites the generated table in docs/prometheus.md.
`--check` only says whether docs/prometheus.md matches the results file;
tests/config/prometheus/test_alert_scenarios.py also re-runs the measurement and compares.

How a first firing is read: every scenario is one promtool test group asking for
`min_over_time(timestamp(ALERTS{alertstate="firing"})[...])` and expecting nothing; promtool
prints what it got instead (one timestamp per alert and severity), and a group that prints
nothing never fired anything. Stdlib only, like stackctl (JSON is YAML for promtool).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "alert_scenarios.json"
DOC = ROOT / "docs" / "prometheus.md"
RULES = ("bot.rules.yml", "slo.rules.yml")
BLOCK = re.compile(
    r"(<!-- generated: time to page \(scripts/alert_scenarios\.py\) -->\n)"
    r".*?(\n<!-- end generated -->)",
    re.S,
)
STEP = 30  # seconds: sample spacing and evaluation interval
MINUTE, HOUR = 60, 3600
LABELS = 'job="bot", instance="bot:8000", service="bot"'
# Cumulative share of commands within each bucket bound of bot_command_duration_seconds.
BOUNDS = ("0.25", "1.0", "2.5", "5.0", "+Inf")
FAST = (0.9, 1.0, 1.0, 1.0, 1.0)
TAIL = (0.6, 0.955, 0.96, 0.99, 1.0)  # p95 ~0.8 s, p99 5 s: 4 % over 2.5 s
SLOW = (0.0, 0.0, 0.0, 0.0, 1.0)  # every command over 5 s


class Bot:
    """The series of one bot process, every STEP seconds: counters as running sums."""

    def __init__(self, seconds: int):
        self.steps = seconds // STEP + 1
        self.up = [1.0] * self.steps
        self.stopping = [0.0] * self.steps
        self.started = [0.0] * self.steps
        self.commands = {s: [0.0] * self.steps for s in ("success", "error", "cancelled")}
        self.buckets = [[0.0] * self.steps for _ in BOUNDS]

    def _step(self, at: float) -> int:
        return min(self.steps - 1, int(at // STEP) + 1)

    def _add(self, at: float, status: str, count: float, profile: tuple[float, ...]) -> None:
        step = self._step(at)
        self.commands[status][step] += count
        for bucket, share in zip(self.buckets, profile, strict=True):
            bucket[step] += count * share

    def traffic(
        self, start: float, end: float, per_minute: float, failing: float = 0.0, profile=FAST
    ) -> None:
        """Steady traffic as expected counts per step (busy bots: many commands a step)."""
        for at in range(int(start), int(end), STEP):
            count = per_minute * STEP / MINUTE
            self._add(at, "success", count * (1 - failing), profile)
            self._add(at, "error", count * failing, profile)

    def command(self, at: float, status: str = "success", profile=FAST, count: int = 1) -> None:
        """Whole commands at one moment (quiet bots: each command at its own moment)."""
        self._add(at, status, count, profile)

    def down(self, start: float, end: float, *, announced: bool) -> None:
        """The process is gone from `start` to `end`; restarted at `end` if within the run."""
        first, last = self._step(start), self._step(end)
        if announced:  # close() waits for one more scrape carrying bot_stopping 1
            self.stopping[first - 1] = 1.0
        for step in range(first, last):
            self.up[step] = 0.0
        for step in range(last, self.steps):
            self.started[step] = end
            self.stopping[step] = 0.0

    def series(self) -> list[dict[str, str]]:
        """promtool input series; a down process exposes nothing (a stale marker, then gaps)."""

        def values(samples: list[float], running: bool) -> str:
            out, total = [], 0.0
            for step, sample in enumerate(samples):
                if step and self.up[step] and not self.up[step - 1]:
                    total = 0.0  # a new process: its counters start again from zero
                total = total + sample if running else sample
                if self.up[step]:
                    out.append(f"{total:.6f}".rstrip("0").rstrip("."))
                else:
                    out.append("stale" if step == 0 or self.up[step - 1] else "_")
            return " ".join(out)

        up = " ".join("1" if u else "0" for u in self.up)
        rows = [
            (f"up{{{LABELS}}}", up),
            (f"bot_stopping{{{LABELS}}}", values(self.stopping, False)),
            (f"process_start_time_seconds{{{LABELS}}}", values(self.started, False)),
        ]
        for status, increments in self.commands.items():
            name = f'bot_commands_total{{{LABELS}, command="play", status="{status}"}}'
            rows.append((name, values(increments, True)))
        for bound, increments in zip(BOUNDS, self.buckets, strict=True):
            name = f'bot_command_duration_seconds_bucket{{{LABELS}, command="play", le="{bound}"}}'
            rows.append((name, values(increments, True)))
        return [{"series": name, "values": text} for name, text in rows]


def every(period: float, start: float, end: float) -> list[float]:
    """Moments of a quiet bot's commands: one each period, the first half a period in."""
    count = int((end - start) // period)
    return [start + period * (k + 0.5) for k in range(count)]


@dataclass(frozen=True)
class Scenario:
    """One situation: how the bot behaves, from when time to page counts, what must happen."""

    name: str
    expect: str  # "page" (within `within` seconds of onset, if set), "ticket" or "quiet"
    seconds: int
    onset: int
    build: Callable[[Bot], None] = field(repr=False)
    within: int | None = None


def _failing(share: float, per_minute: float) -> Callable[[Bot], None]:
    def build(bot: Bot) -> None:
        bot.traffic(0, HOUR, per_minute)
        bot.traffic(HOUR, HOUR + 15 * MINUTE, per_minute, failing=share)

    return build


def _night(per_hour: int, failures: int) -> Callable[[Bot], None]:
    def build(bot: Bot) -> None:
        moments = every(HOUR / per_hour, 0, 8 * HOUR)
        first = len(moments) // 2
        for index, at in enumerate(moments):
            bot.command(at, "error" if first <= index < first + failures else "success")

    return build


def _low_traffic_outage(bot: Bot) -> None:
    for at in every(HOUR / 5, 0, 6 * HOUR):
        bot.command(at, "error" if at >= 2 * HOUR else "success")


def _latency(profile: tuple[float, ...], hours: int) -> Callable[[Bot], None]:
    def build(bot: Bot) -> None:
        bot.traffic(0, HOUR, 100)
        bot.traffic(HOUR, hours * HOUR, 100, profile=profile)

    return build


def _slow_burn(bot: Bot) -> None:
    bot.traffic(0, HOUR, 100)
    bot.traffic(HOUR, 6 * HOUR, 100, failing=0.01)


def _outage(down: int, *, announced: bool, cancelled: int = 0) -> Callable[[Bot], None]:
    def build(bot: Bot) -> None:
        bot.traffic(0, 30 * MINUTE, 100)
        if cancelled:  # the commands in flight, cut off by the stop (observed, as the library does)
            bot.command(30 * MINUTE - 1, "cancelled", SLOW, count=cancelled)
        bot.down(30 * MINUTE, 30 * MINUTE + down, announced=announced)
        bot.traffic(30 * MINUTE + down, 60 * MINUTE, 100)

    return build


M30 = 30 * MINUTE
# Time to page counts from the onset: the first failing, slow or missing sample. The low-traffic
# outage's first failed command comes 6 minutes after its onset at 2h (one every 12 minutes).
SCENARIOS = [
    Scenario("100% of commands fail (100 a minute)", "page", 75 * MINUTE, HOUR,
             _failing(1.0, 100), within=300),
    Scenario("50% of commands fail (100 a minute)", "page", 75 * MINUTE, HOUR,
             _failing(0.5, 100), within=300),
    Scenario("20% of commands fail (100 a minute)", "page", 75 * MINUTE, HOUR,
             _failing(0.2, 100), within=300),
    Scenario("20% of commands fail (1 a minute)", "page", 75 * MINUTE, HOUR,
             _failing(0.2, 1), within=300),
    Scenario("Every command fails, 5 an hour (from the first failure)", "page", 6 * HOUR,
             2 * HOUR + 6 * MINUTE, _low_traffic_outage),
    Scenario("Bot crashes and stays down", "page", HOUR, M30,
             _outage(M30, announced=False), within=60),
    Scenario("Planned stop, not back after 10 min", "page", HOUR, M30,
             _outage(10 * MINUTE, announced=True), within=330),
    Scenario("Every command takes over 5 s", "page", 2 * HOUR, HOUR, _latency(SLOW, 2)),
    Scenario("Slow tail: p95 0.8 s, p99 5 s", "ticket", 6 * HOUR, HOUR, _latency(TAIL, 6)),
    Scenario("Slow burn: 1% of commands fail", "ticket", 6 * HOUR, HOUR, _slow_burn),
    # 90 s, not a 40 s restart: at 30 s steps BotDown's 20 s `for` needs three failed samples.
    Scenario("Planned restart, down 90 s, 30 commands cancelled", "quiet", HOUR, M30,
             _outage(90, announced=True, cancelled=30)),
    # Two failures in a row: the hours after the first are the one-failure night.
    *(
        Scenario(f"8-hour night, {n} command{'s' * (n > 1)} an hour, 2 in a row fail", "quiet",
                 8 * HOUR, 0, _night(n, 2))
        for n in (1, 3, 5, 20)
    ),
]  # fmt: skip


def _clock(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (rest, "s")) if v) or "0s"


def test_file(scenarios: list[Scenario], rules: Path) -> dict:
    """One promtool unit test file holding a group per scenario."""
    groups = []
    for index, scenario in enumerate(scenarios):
        bot = Bot(scenario.seconds)
        scenario.build(bot)
        end = _clock(scenario.seconds)
        first = f'min_over_time(timestamp(ALERTS{{alertstate="firing"}})[{end}:{STEP}s])'
        # promtool prints what a failed group got, not the group's name: the index says which.
        query = (
            f'label_replace(min by (alertname, severity) ({first}), "scenario", "{index}", "", "")'
        )

        groups.append({
            "name": scenario.name,
            "interval": f"{STEP}s",
            "input_series": bot.series(),
            "promql_expr_test": [{"expr": query, "eval_time": end, "exp_samples": []}],
        })  # fmt: skip
    return {
        "rule_files": [str(rules / name) for name in RULES],
        "evaluation_interval": f"{STEP}s",
        # Recording groups first, as in production's order within one evaluation.
        "group_eval_order": [
            "bot-recording",
            "bot-slo",
            "bot-slo-long-windows",
            "bot-slo-alerts",
            "bot-availability",
            "bot-gateway",
            "bot-commands",
            "bot-discord-api",
            "bot-tasks",
            "bot-exporter",
        ],
        "tests": groups,
    }


SAMPLE = re.compile(r'\{alertname="(\w+)", scenario="(\d+)", severity="(\w+)"\} ([0-9.eE+-]+)')


def measure(promtool: Path, scenarios: list[Scenario] = SCENARIOS) -> list[dict]:
    """Run every scenario through promtool; each one's first firing per alert, from onset."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenarios.test.yml"
        path.write_text(json.dumps(test_file(scenarios, ROOT / "prometheus" / "rules")))
        result = subprocess.run(
            [str(promtool), "test", "rules", str(path)], capture_output=True, text=True
        )
    output = result.stdout + result.stderr
    fired = SAMPLE.findall(output)
    if not fired and "SUCCESS" not in output:
        raise RuntimeError(f"promtool did not run the scenarios:\n{output}")
    rows = []
    for index, scenario in enumerate(scenarios):
        alerts = sorted(
            (round(float(at)) - scenario.onset, name, severity)
            for name, number, severity, at in fired
            if int(number) == index
        )
        rows.append({
            "scenario": scenario.name,
            "expect": scenario.expect,
            "within_seconds": scenario.within,
            "alerts": [{"alert": n, "severity": s, "after_seconds": t} for t, n, s in alerts],
        })  # fmt: skip
    return rows


def first(row: dict, severity: str) -> dict | None:
    return next((a for a in row["alerts"] if a["severity"] == severity), None)


def problems(rows: list[dict]) -> list[str]:
    """What the rules get wrong against each scenario's expectation."""
    found = []
    for row in rows:
        page, ticket = first(row, "critical"), first(row, "warning")
        name, within = row["scenario"], row["within_seconds"]
        if row["expect"] == "page" and page is None:
            found.append(f"{name}: no page")
        if row["expect"] == "page" and page and within and page["after_seconds"] > within:
            found.append(f"{name}: paged after {page['after_seconds']}s, not within {within}s")
        if row["expect"] in ("ticket", "quiet") and page is not None:
            found.append(f"{name}: paged ({page['alert']})")
        if row["expect"] == "ticket" and ticket is None:
            found.append(f"{name}: no ticket")
    return found


def _cell(alert: dict | None) -> str:
    if alert is None:
        return "—"
    return f"{_clock(max(alert['after_seconds'], 0))} ({alert['alert']})"


def table(rows: list[dict]) -> str:
    expect = {"page": "page", "ticket": "ticket, no page", "quiet": "no page"}
    lines = [
        "| Scenario | Wanted | First page (critical) | First ticket (warning) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        wanted = expect[row["expect"]]
        if row["within_seconds"]:
            wanted += f" within {_clock(row['within_seconds'])}"
        page, ticket = first(row, "critical"), first(row, "warning")
        lines.append(f"| {row['scenario']} | {wanted} | {_cell(page)} | {_cell(ticket)} |")
    return "\n".join(lines)


def render(doc: str, rows: list[dict]) -> str:
    if not BLOCK.search(doc):
        raise RuntimeError(f"{DOC.name} has no generated time-to-page block")
    return BLOCK.sub(lambda m: m.group(1) + table(rows) + m.group(2), doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only compare the doc with results")
    args = parser.parse_args(argv)
    if args.check:
        rows = json.loads(RESULTS.read_text())
        if render(DOC.read_text(), rows) != DOC.read_text():
            print(f"{DOC.relative_to(ROOT)} is out of date: run python3 scripts/alert_scenarios.py")
            return 1
        return 0
    rows = measure(ROOT / ".tools" / "bin" / "promtool")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    DOC.write_text(render(DOC.read_text(), rows))
    for problem in problems(rows):
        print(problem)
    return 1 if problems(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
