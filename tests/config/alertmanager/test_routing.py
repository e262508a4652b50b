"""Alertmanager routing: each case of alertmanager/tests/routing.yml, per channel combination."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from stackctl.alerting import BASE, render
from stackctl.checks import seconds

from tests.config.logs.conftest import loki_rules
from tests.config.prometheus.conftest import alert_cases, alerts
from tests.support.fake_secrets import CHANNEL_SETTINGS, DEADMANSSWITCH_URL
from tests.support.native_stack import DEFAULT_RESEND_DELAY

REPO = Path(__file__).resolve().parents[3]
CASES = yaml.safe_load((REPO / "alertmanager" / "tests" / "routing.yml").read_text())
DISCORD = {"DISCORD_WEBHOOK_URL": CHANNEL_SETTINGS["DISCORD_WEBHOOK_URL"]}
TELEGRAM = {k: CHANNEL_SETTINGS[k] for k in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID")}
HEARTBEAT = {"DEADMANSSWITCH_URL": DEADMANSSWITCH_URL}
COMBINATIONS = {
    "neither": {},
    "deadmansswitch": HEARTBEAT,
    "discord": DISCORD,
    "telegram": TELEGRAM,
    "telegram+warnings": {**TELEGRAM, "TELEGRAM_WARNINGS": "true"},
    "both": {**DISCORD, **TELEGRAM},
    "both+warnings": {**DISCORD, **TELEGRAM, "TELEGRAM_WARNINGS": "true"},
    "both+deadmansswitch": {**DISCORD, **TELEGRAM, **HEARTBEAT},
}
ROUTE = yaml.safe_load(BASE.read_text())["route"]


def expected_channels(reaches: str, env: dict[str, str]) -> set[str]:
    """What `reaches` in routing.yml means for one combination of settings (the dead man's switch
    is Alertmanager's `webhook` integration)."""
    discord, telegram = "DISCORD_WEBHOOK_URL" in env, "TELEGRAM_BOT_TOKEN" in env
    warnings = env.get("TELEGRAM_WARNINGS") == "true"
    wanted = {
        "all": {"discord": discord, "telegram": telegram},
        "warnings": {"discord": discord, "telegram": telegram and warnings},
        "telegram": {"telegram": telegram},
        "discord": {"discord": discord},
        "none": {},
        "heartbeat": {"webhook": "DEADMANSSWITCH_URL" in env},
    }[reaches]
    return {channel for channel, on in wanted.items() if on}


@pytest.fixture(scope="module", params=COMBINATIONS)
def rendered(request, tmp_path_factory) -> tuple[str, Path, dict]:
    env = COMBINATIONS[request.param]
    folder = tmp_path_factory.mktemp(request.param.replace("+", "-"))
    render(env, folder, templates_dir=str(REPO / "alertmanager" / "templates"))
    config = folder / "alertmanager.yml"
    return request.param, config, yaml.safe_load(config.read_text())


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_routing_case(case, rendered, tool):
    """The alert reaches the case's receiver (amtool) and through it exactly the expected chats."""
    name, config, data = rendered
    labels = [f"{key}={value}" for key, value in case["labels"].items()]
    result = subprocess.run(
        [
            tool("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            f"--verify.receivers={case['receiver']}",
            *labels,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    receiver = next(r for r in data["receivers"] if r["name"] == case["receiver"])
    reached = {key.removesuffix("_configs") for key in receiver if key.endswith("_configs")}
    assert reached == expected_channels(case["reaches"], COMBINATIONS[name])


def _route(matcher: str) -> dict:
    return next(r for r in ROUTE["routes"] if r.get("matchers") == [matcher])


class TestTimings:
    def test_critical_pages_fast_and_bounds_a_rate_limited_resend(self):
        """Critical waits ≤ 10s before the first message and re-flushes (429 re-send) within 1m."""
        critical = _route('severity="critical"')
        assert critical["group_wait"] == "10s"
        assert critical["group_interval"] == "1m"

    def test_repeat_intervals_grow_with_lower_severity(self):
        """A still-firing critical repeats every 2h, a warning every 12h, the info digest daily."""
        repeats = [
            _route(f'severity="{s}"')["repeat_interval"] for s in ("critical", "warning", "info")
        ]
        assert repeats == ["2h", "12h", "24h"]

    def test_info_is_one_hourly_digest(self):
        """Info alerts are grouped by severity only (one message) and flushed hourly."""
        info = _route('severity="info"')
        assert (info["group_by"], info["group_interval"]) == (["severity"], "1h")

    def test_quiet_hours_mute_warnings_and_info_but_never_critical(self):
        """The quiet-hours interval applies to the warning and info routes only."""
        muted = {
            r["matchers"][0]
            for r in ROUTE["routes"]
            if "quiet-hours" in r.get("mute_time_intervals", [])
        }
        assert muted == {'severity="warning"', 'severity="info"'}

    def test_down_alerts_are_grouped_per_instance(self):
        """Within critical and warning, *Down alerts group by alertname, service, instance and host
        (agents on two hosts both scrape bot:8000)."""
        for severity in ("critical", "warning"):
            (child,) = _route(f'severity="{severity}"')["routes"]
            assert child["matchers"] == ['alertname=~".+Down"']
            assert child["group_by"] == ["alertname", "service", "instance", "host"]

    def test_the_heartbeat_pings_every_minute_and_stops_within_6m_of_a_dead_prometheus(self):
        """The Watchdog route flushes every minute, pings at every flush (repeat_interval below
        group_interval: a repeat equal to it pings every second flush), and the last ping follows
        Prometheus' last send by less than 6 minutes: its endsAt of 4 * max(resend delay,
        evaluation interval), plus at most nothing (the next flush sees it resolved)."""
        watchdog = _route('alertname="Watchdog"')
        assert watchdog["receiver"] == "heartbeat"
        interval = seconds(watchdog["group_interval"])
        assert interval == 60
        assert seconds(watchdog["repeat_interval"]) < interval
        # compose.yaml leaves --rules.alert.resend-delay at Prometheus' default, 1m.
        assert "resend-delay" not in (REPO / "compose.yaml").read_text()
        resend = DEFAULT_RESEND_DELAY
        rules = yaml.safe_load((REPO / "prometheus" / "rules" / "stack.rules.yml").read_text())
        (group,) = [
            g for g in rules["groups"] if any(r.get("alert") == "Watchdog" for r in g["rules"])
        ]
        prometheus = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
        evaluation = seconds(group.get("interval", prometheus["global"]["evaluation_interval"]))
        ends_after = 4 * max(resend, evaluation)
        assert ends_after < 6 * 60

    def test_everything_else_groups_by_alertname_and_service(self):
        """The root groups by alert name and service."""
        assert ROUTE["group_by"] == ["alertname", "service"]


class TestNotifiers:
    def test_every_chat_notifier_sends_resolved_notices(self, rendered):
        """Every Discord and Telegram notifier sends resolved notices."""
        _, _, data = rendered
        notifiers = [
            n
            for r in data["receivers"]
            for key in ("discord_configs", "telegram_configs")
            for n in r.get(key, [])
        ]
        assert all(n["send_resolved"] is True for n in notifiers)

    def test_the_dead_mans_switch_never_pings_on_resolve(self, rendered):
        """The heartbeat webhook sends no resolved notice: those would be pings from a dead
        pipeline."""
        _, _, data = rendered
        webhooks = [n for r in data["receivers"] for n in r.get("webhook_configs", [])]
        assert all(n["send_resolved"] is False for n in webhooks)


RULE_ALERTS = {rule.alert for rule in alerts()}
# The label names each alert really carries: the firing cases of the promtool tests assert them.
FIRING_LABELS = [
    (case["alertname"], frozenset(alert.get("exp_labels", {})))
    for case in alert_cases()
    for alert in case.get("exp_alerts") or []
]


def _logql_label_sets(expr: str) -> list[frozenset[str]]:
    """The label names each arm of a LogQL alert expression yields: the `by (...)` labels of its
    aggregations, and the equality matchers of an absent_over_time selector."""
    sets = [
        frozenset(name.strip() for name in group.split(",") if name.strip())
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr)
    ]
    sets += [
        frozenset(re.findall(r'(\w+)\s*=\s*"', selector))
        for selector in re.findall(r"absent_over_time\(\s*\{([^}]*)\}", expr)
    ]
    return sets


LOKI_RULES = [rule for rule in loki_rules() if "alert" in rule]
# The label names each Loki log alert carries: its expression's labels plus the rule's own.
LOKI_FIRING_LABELS = [
    (rule["alert"], form | set(rule["labels"]))
    for rule in LOKI_RULES
    for form in _logql_label_sets(rule["expr"])
]
# The labels BotDown carries (its promtool cases assert them): all an inhibit rule can compare.
BOT_DOWN_LABELS = {"service", "instance", "job", "severity"}
# The agent's external label: on every alert of a remote bot, on none of a local one, so an inhibit
# rule comparing it compares equal values or two absent ones.
HOST_LABEL = "host"
SYMPTOM_RE = re.compile(r"Bot(Gateway|Command|EventLoop|Stuck|ErrorLogs|Discord|Task)")


def _matches(matcher: str, alertname: str) -> bool:
    kind, value = re.fullmatch(r'alertname(=~|=)"(.*)"', matcher).groups()
    return (re.fullmatch(value, alertname) if kind == "=~" else value == alertname) is not None


def suppressed_by_bot_down(alertname: str, labels: frozenset[str]) -> bool:
    """Whether an inhibit rule with BotDown as source mutes an alert carrying `labels`."""
    return any(
        rule["source_matchers"] == ['alertname="BotDown"']
        and all(_matches(m, alertname) for m in rule["target_matchers"])
        and set(rule["equal"]) - {HOST_LABEL} <= labels & BOT_DOWN_LABELS
        for rule in yaml.safe_load(BASE.read_text())["inhibit_rules"]
    )


class TestInhibitions:
    def test_bot_down_suppresses_its_gateway_latency_and_command_alerts(self):
        """Every firing form of a gateway, latency, command, loop, task or log alert is muted."""
        symptoms = [(name, labels) for name, labels in FIRING_LABELS if SYMPTOM_RE.match(name)]
        assert {name for name, _ in symptoms} == {n for n in RULE_ALERTS if SYMPTOM_RE.match(n)}
        loud = sorted(
            {name for name, labels in symptoms if not suppressed_by_bot_down(name, labels)}
        )
        assert loud == []

    def test_bot_down_keeps_cause_alerts(self):
        """BotDown does not hide itself, a missing target, a crash loop or a memory leak."""
        names = ("BotDown", "BotTargetMissing", "BotCrashLooping", "BotMemoryLeak")
        causes = [(n, labels) for n, labels in FIRING_LABELS if n in names]
        assert len({name for name, _ in causes}) == 4
        assert not any(suppressed_by_bot_down(name, labels) for name, labels in causes)

    def test_bot_down_only_suppresses_the_same_bot(self):
        """Every BotDown suppression compares the bot's service label: other bots keep alerting."""
        rules = [r for r in yaml.safe_load(BASE.read_text())["inhibit_rules"]
                 if r["source_matchers"] == ['alertname="BotDown"']]  # fmt: skip
        assert rules
        assert all("service" in rule["equal"] for rule in rules)

    def test_bot_down_per_instance_also_compares_the_host(self):
        """A BotDown suppression that compares the instance also compares the host: the same
        instance name (bot:8000) on another host is another process and keeps alerting."""
        rules = [r for r in yaml.safe_load(BASE.read_text())["inhibit_rules"]
                 if r["source_matchers"] == ['alertname="BotDown"']]  # fmt: skip
        per_instance = [rule for rule in rules if "instance" in rule["equal"]]
        assert per_instance
        assert all(HOST_LABEL in rule["equal"] for rule in per_instance)

    def test_agent_down_mutes_only_its_own_hosts_bot_pages(self):
        """AgentDown (labels: host) mutes BotDown and BotTargetMissing of its host, nothing else."""
        (rule,) = [r for r in yaml.safe_load(BASE.read_text())["inhibit_rules"]
                   if 'alertname="AgentDown"' in r["source_matchers"]]  # fmt: skip
        assert rule["equal"] == [HOST_LABEL]
        assert 'host!=""' in rule["source_matchers"]
        muted = [n for n in RULE_ALERTS if all(_matches(m, n) for m in rule["target_matchers"])]
        assert sorted(muted) == ["BotDown", "BotTargetMissing"]

    def test_bot_down_suppresses_the_same_bots_log_symptoms(self):
        """A dead bot's "stopped logging" and error-burst log alerts are muted by its BotDown."""
        forms = [(n, labels) for n, labels in LOKI_FIRING_LABELS if "service" in labels]
        symptoms = [
            (n, labels) for n, labels in forms if n in ("BotLogsSilent", "BotLogErrorBurst")
        ]
        assert {name for name, _ in symptoms} == {"BotLogsSilent", "BotLogErrorBurst"}
        assert [name for name, labels in symptoms if not suppressed_by_bot_down(name, labels)] == []

    def test_bot_down_keeps_critical_log_lines_and_fleet_silence(self):
        """BotLogCritical (the bot's own account of why it stops) and BotLogsSilent with no service
        (no bot line reaches Loki at all) stay loud while a BotDown fires."""
        kept = [
            (name, labels)
            for name, labels in LOKI_FIRING_LABELS
            if name == "BotLogCritical" or "service" not in labels
        ]
        assert {name for name, _ in kept} == {"BotLogCritical", "BotLogsSilent"}
        assert not any(suppressed_by_bot_down(name, labels) for name, labels in kept)

    def test_log_alert_label_sets_are_read_from_the_rules(self):
        """The label sets the checks above use are the ones the Loki rules produce."""
        assert set(LOKI_FIRING_LABELS) == {
            ("BotLogErrorBurst", frozenset({"service", "severity"})),
            ("BotLogCritical", frozenset({"service", "severity"})),
            ("BotLogsSilent", frozenset({"service", "severity"})),
            ("BotLogsSilent", frozenset({"job", "severity"})),
        }
