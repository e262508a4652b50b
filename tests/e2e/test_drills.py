"""Every shipped alert can be made to fire by its drill, for real (scripts/drill/catalog.py).

The drills run all at once, for about six minutes, on native processes; the root conftest starts
that session with the test session and runs the tests that read it (marked `drills`) last, so the
rest of `make test` runs meanwhile (tests/support/drill_session.py). The live drills must fire and
resolve in the real Prometheus and reach Alertmanager; the stretched ones' real samples, replayed
slower, must fire and resolve in promtool with the shipped rules; the Loki ones' real log lines
must match their rules. The alerts are read from the rule files, so an alert added without a
drill fails here. `make test-drills` runs only these.
"""

from __future__ import annotations

import functools
import re

import pytest
from drill.catalog import BY_ALERT, DRILLS, FILL_DISK

from tests.config.logs.conftest import PROMTAIL_YML, load_expanded
from tests.config.logs.relabel import relabel
from tests.support.drill_session import LIVE, LOKI_RULES, PROM_RULES, RULES, STRETCHED
from tests.support.logql import check_logql

NOT_NATIVE = {"grafana", "loki", "promtail", "alloy"}


def test_every_alert_has_a_drill():
    """Each alerting rule of Prometheus and Loki has a drill: a rule without one may be
    unreachable, which is what this finds."""
    assert sorted({r.alert for r in RULES} - BY_ALERT.keys()) == []


def test_stack_only_drills_need_a_component_that_cannot_run_here():
    """A drill may skip the native proof only for an alert on Grafana, Loki, Promtail or Alloy,
    which have no native binary here (`make test-stack` runs them). The bot may be a condition
    (the log shipper alerts compare with the lines it logged), never the subject."""
    for rule in PROM_RULES:
        drill = BY_ALERT.get(rule.alert)
        if drill and not drill.native:
            jobs = set(re.findall(r'job=~?"([^"]+)"', rule.expr)) - {"bot"}
            assert jobs and all(set(j.split("|")) <= NOT_NATIVE for j in jobs), rule.alert


def test_every_drill_belongs_to_a_shipped_alert():
    """No drill is left for an alert that no longer exists."""
    assert sorted(BY_ALERT.keys() - {r.alert for r in RULES}) == []


def test_every_switch_exists_in_the_demo():
    """Each drill's switch is one the demo bot knows."""
    from botwatch.demo.drills import CONDITIONS

    assert sorted({d.switch for d in DRILLS if d.switch} - CONDITIONS.keys()) == []


def test_loki_drills_are_marked_loki():
    """A drill proves a Loki rule by log lines, a Prometheus rule by Prometheus."""
    engines = {r.alert: r.engine for r in RULES}
    assert {d.alert: d.loki for d in DRILLS if d.alert in engines} == {
        d.alert: engines[d.alert] == "loki" for d in DRILLS if d.alert in engines
    }


@pytest.fixture(scope="module")
def session(drill_run):
    """The drill session the root conftest started with the test session (DrillRun)."""
    result = drill_run.result()
    print(f"\nall drills ran in {result.elapsed:.0f}s")
    for live in result.live.values():
        print("\n".join(live.lines()))
    return result


@pytest.mark.drills
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("rule", LIVE, ids=[r.id for r in LIVE])
def test_live_drill_fires_and_resolves(session, rule):
    """The real Prometheus fires the shipped rule with its labels, Alertmanager gets it, and both
    see it resolved after the condition stops."""
    drill = BY_ALERT[rule.alert]
    result = session.live[rule.alert]
    assert result.firing is not None, f"{rule.alert} never fired\n{session.stack.logs()}"
    assert result.fired_labels["severity"] == rule.severity
    assert result.fired_labels.items() >= session.stack.subject(drill).items()
    assert result.alertmanager is not None
    if drill.resolves:
        assert result.resolved is not None and result.am_resolved is not None


@pytest.mark.drills
@pytest.mark.timeout(1800)
def test_a_critical_drill_reaches_both_channels(session):
    """BotDown (critical) is delivered to Discord and Telegram during its drill."""
    channels = session.live["BotDown"].channels
    assert channels and all(t is not None for t in channels.values()), channels


@pytest.mark.drills
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("rule", STRETCHED, ids=[r.id for r in STRETCHED])
def test_stretched_drill_fires_and_resolves_in_promtool(session, rule):
    """The drill's real samples, replayed slower against the shipped rule, make it fire with the
    expected labels and then resolve."""
    if BY_ALERT[rule.alert].action == FILL_DISK and session.stack.disk.unavailable:
        pytest.skip(session.stack.disk.unavailable)
    recording, result = session.replays[rule.id]
    assert recording.series, "nothing was scraped from the drill's subject"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# -- Loki ------------------------------------------------------------------------------
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_THRESHOLD = re.compile(r">\s*(\d+(?:\.\d+)?)\s*$")


@functools.cache
def _target_labels() -> tuple[tuple[str, str], ...]:
    """The labels promtail's relabelling gives the compose `bot` service's container."""
    (scrape,) = load_expanded(PROMTAIL_YML)["scrape_configs"]
    target = {
        "__meta_docker_container_name": "/botwatch-bot-1",
        "__meta_docker_container_label_com_docker_compose_project": "botwatch",
        "__meta_docker_container_label_com_docker_compose_service": "bot",
    }
    return tuple(relabel(target, scrape["relabel_configs"]).items())


def _stream_labels(line: dict) -> dict[str, str]:
    """The labels promtail gives this line of the bot: relabelling (the same for every line, so
    computed once), then the pipeline's json → level/service labels."""
    return {**dict(_target_labels()), "level": line["level"], "service": line["service"]}


def _selects(selector: str, labels: dict[str, str]) -> bool:
    for name, op, value in _MATCHER.findall(selector):
        have = labels.get(name, "")
        ok = {
            "=": have == value, "!=": have != value,
            "=~": re.fullmatch(value, have) is not None, "!~": re.fullmatch(value, have) is None,
        }[op]  # fmt: skip
        if not ok:
            return False
    return True


@pytest.mark.drills
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("rule", LOKI_RULES, ids=[r.id for r in LOKI_RULES])
def test_loki_drill_lines_match_the_rule(session, rule):
    """While the drill is on, its bot's real lines are (or, for silence, are not) selected by the
    rule's stream selector, in numbers past the rule's threshold."""
    assert check_logql([rule.expr]) == [None]
    drill = BY_ALERT[rule.alert]
    bot = session.stack.bot(drill)
    during = [
        line for line in bot.lines()
        if session.switched_on + 2 <= _epoch(line["timestamp"]) <= session.switched_off
    ]  # fmt: skip
    selectors = re.findall(r"\{[^}]*\}", rule.expr)
    selected = [line for line in during if _selects(selectors[0], _stream_labels(line))]
    if drill.switch == "log_silence":
        before = [line for line in bot.lines() if _epoch(line["timestamp"]) < session.switched_on]
        assert before and all(_selects(s, _stream_labels(before[-1])) for s in selectors)
        assert selected == []
        return
    threshold = float(_THRESHOLD.search(rule.expr).group(1))
    assert len(selected) > threshold, f"{len(selected)} matching lines, rule wants > {threshold}"


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
