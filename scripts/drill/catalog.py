"""Every alert's fire drill: what makes it fire for real, and how `make test` proves it.

A drill names one demo-bot switch (exporter/botwatch/demo/drills.py) or one thing done to the
stack (stop the bot, take it out of service discovery). `make drill ALERT=<name>` applies it to the
running stack and times the alert; tests/e2e/test_drills.py (`make test-drills`) applies it to
native processes:

- live      the real Prometheus, with the shipped rules and `for:`, fires and resolves while the
            test waits (alerts that need at most a few minutes);
- stretch   the drill runs for a few minutes on the real Prometheus, its samples are read back and
            replayed k times slower to `promtool test rules` (alerts whose windows plus `for:` are
            too long to wait for: k is the factor, chosen so that the slowed-down run lasts longer
            than the rule needs to fire and then to resolve: 190 s on and 190 s off in the test);
- loki      the drill's real log lines go through the promtail pipeline and must match the rule's
            stream selector and line filters (no LogQL engine runs here; `make test-stack` fires
            them in the real Loki).

An alert without an entry here fails `make test`: every rule must be reachable. Add one with your
alert: a switch in the demo, or an action, and the proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Things done to the stack rather than switched on in the bot; each is undone to resolve.
STOP_BOT = "stop-bot"  # the bot process is killed (SIGKILL: a planned stop is quiet on purpose)
UNLIST_BOT = "unlist-bot"  # the bot target leaves service discovery
NOTHING = "nothing"  # the alert fires by itself (Watchdog)
BAD_RULE_FILE = "prometheus-bad-rule-file"  # a rule file Prometheus cannot parse, then a reload
FAILING_RULE = "prometheus-failing-rule"  # a rule that fails at every evaluation, then a reload
CORRUPT_WAL = "prometheus-corrupt-wal"  # Prometheus restarts on a damaged write-ahead log
NO_ALERTMANAGER = "prometheus-no-alertmanager"  # a reload that leaves no Alertmanager discovered
TINY_RETENTION = "prometheus-tiny-retention"  # Prometheus restarts with a 1KB retention size
ALERTMANAGER_DOWN = "alertmanager-down"  # the Alertmanager Prometheus sends to stops
STOP_COMPONENT = "stop-component"  # a scraped stack component stops (compose: Loki)
AM_BAD_CONFIG = "alertmanager-bad-config"  # Alertmanager reloads a config it cannot parse
CHANNEL_REFUSES = "channel-refuses"  # the Discord webhook answers 400 to everything
STOP_GRAFANA = "stop-grafana"
STOP_LOKI = "stop-loki"  # Promtail's pushes fail, then it drops what it could not send
OLD_LOG_LINE = "loki-old-line"  # a line older than Loki accepts is pushed
STOP_SHIPPER = "stop-shipper"  # the log shipper (Promtail or Alloy) stops
STOP_AGENT = "stop-agent"  # a bot host's agent (Prometheus --agent) stops sending
STOP_AM_PEER = "alertmanager-peer-down"  # one Alertmanager of a clustered pair stops
FILL_DISK = "fill-disk"  # a small filesystem seen by node-exporter is filled to 97%
LOKI_RULE_WRITES = "loki-rule-writes"  # rule groups are written to Loki's read-only rule store

# Why a drill is not done to a running stack (Drill.off_stack).
DAMAGES = "it would damage data or a channel's settings"


@dataclass(frozen=True)
class Drill:
    """How to make one alert fire."""

    alert: str
    how: str  # one line: what the drill makes happen
    switch: str | None = None  # demo-bot condition (botwatch.demo.drills.CONDITIONS)
    action: str | None = None  # or one of ACTIONS
    # Replay factor, or factors by one of the rule's own labels ("long=6h") when several rules
    # share the name. None: proven live.
    stretch: int | Mapping[str, int] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # labels expected besides service
    loki: bool = False
    resolves: bool = True  # Watchdog never does
    # The condition outlives its switch (a full label cap stays full): the bot restarts when the
    # drill ends, as it does when the real fix is deployed.
    restart_after: bool = False
    # False where the component it needs has no native binary here (Grafana, Loki, Promtail,
    # Alloy): proven by `make test-stack` only.
    native: bool = True
    # Why `make drill` does not do it to a running stack (it would destroy data or a channel's
    # settings, or it happens on another host): `make drill` then says so and the native test is
    # the proof. Empty: it does.
    off_stack: str = ""
    # Seconds the live proof waits for firing, where the rule needs longer than the default.
    patience: int | None = None

    def factor(self, rule_labels: Mapping[str, str]) -> int | None:
        """The replay factor for one rule of this alert (None: live)."""
        if self.stretch is None or isinstance(self.stretch, int):
            return self.stretch
        for key, factor in self.stretch.items():
            name, _, value = key.partition("=")
            if rule_labels.get(name) == value:
                return factor
        raise KeyError(f"{self.alert}: no stretch for a rule labelled {dict(rule_labels)}")

    @property
    def mode(self) -> str:
        if not self.native:
            return "stack"
        return "loki" if self.loki else "live" if self.stretch is None else "stretch"


DRILLS: tuple[Drill, ...] = (
    Drill("BotDown", "the bot process is killed, as in a crash", action=STOP_BOT),
    Drill("BotTargetMissing", "the bot target leaves service discovery", action=UNLIST_BOT),
    # 30m window: a restart every ~15 s, slowed 15x, is one every ~4 min; 190 s are 47 min.
    Drill("BotCrashLooping", "the bot exits 8 s after each start", switch="crash", stretch=15),
    # Needs 6h of uptime, a 6h trend and `for: 1h`, and about 6h more for the trend to flatten:
    # 145x (the test's 1 s scrapes then replay 145 s apart).
    Drill("BotMemoryLeak", "memory grows 2 MiB/s", switch="memory_growth", stretch=145),
    Drill("BotGatewayDisconnected", "the gateway drops and stays down", switch="disconnect"),
    Drill("BotGatewayLatencyHigh", "heartbeats take 2.8 s", switch="gateway_latency", stretch=12),
    # 30m window + for 15m = 45 min: 35x makes 58 min.
    Drill("BotStuck", "connected, but no event or command arrives", switch="stuck", stretch=35),
    Drill("BotCommandErrorRatioHigh", "a quarter of commands fail", switch="command_errors",
          stretch=12),
    Drill("BotCommandsSlow", "backends answer 3 s late", switch="slow_commands", stretch=12),
    Drill("BotEventLoopLagHigh", "the loop blocks 400 ms a second", switch="loop_lag", stretch=12),
    Drill("BotErrorLogsHigh", "ten error lines a second", switch="log_burst", stretch=12),
    Drill("BotDiscordRateLimited", "half the REST calls get 429", switch="rate_limit_storm",
          stretch=12),
    Drill("BotDiscordApiErrors", "a third of REST calls get 503", switch="api_errors", stretch=12),
    Drill("BotTaskStalled", "sync_stats hangs", switch="stalled_task", stretch=10,
          labels={"task": "DemoCog.sync_stats"}),
    Drill("BotTaskFailing", "refresh_cache raises", switch="failing_task", stretch=60,
          labels={"task": "DemoCog.refresh_cache"}),
    # The overflow counter's `metric`/`label` say which label hit the cap.
    Drill("BotExporterLabelOverflow", "ten new operation names a second",
          switch="label_overflow", stretch=60, restart_after=True,
          labels={"metric": "bot_operations", "label": "operation"}),
    # Four rules, one per window pair: each long window's `for:` plus its short window to clear.
    Drill("BotCommandErrorBudgetBurn", "a quarter of commands fail", switch="command_errors",
          stretch={"long=1h": 10, "long=6h": 60, "long=1d": 120, "long=3d": 145}),
    Drill("BotCommandLatencyBudgetBurn", "backends answer 3 s late", switch="slow_commands",
          stretch={"long=1h": 10, "long=6h": 60, "long=1d": 120, "long=3d": 145}),
    Drill("BotLogErrorBurst", "ten error lines a second", switch="log_burst", loki=True),
    Drill("BotLogCritical", "a critical line every 30 s", switch="critical_line", loki=True),
    Drill("BotLogsSilent", "the bot logs nothing", switch="log_silence", loki=True),
    Drill("Watchdog", "nothing: it always fires", action=NOTHING, resolves=False),
    # The stack's own alerts: done to a Prometheus or Alertmanager under drill (native test) or
    # to the running stack's (`make drill`), where that is safe.
    Drill("PrometheusConfigReloadFailed", "a rule file it cannot parse, then a reload",
          action=BAD_RULE_FILE, stretch=12),
    Drill("PrometheusRuleEvaluationFailures", "a rule that fails at every evaluation",
          action=FAILING_RULE, stretch=12),
    # 3h window: 72x makes the 6 test minutes 7h, the failure leaves the window within them.
    Drill("PrometheusTSDBFailures", "a restart on a damaged write-ahead log",
          action=CORRUPT_WAL, stretch=72, labels={"failure": "WAL corruption"}, off_stack=DAMAGES),
    Drill("PrometheusNotificationsFailing", "its Alertmanager stops answering",
          action=ALERTMANAGER_DOWN, stretch=12),
    Drill("PrometheusAlertmanagerMissing", "a reload that leaves no Alertmanager discovered",
          action=NO_ALERTMANAGER, stretch=12, off_stack=DAMAGES),
    Drill("PrometheusStorageNearRetentionSize", "a restart with a 1KB retention size",
          action=TINY_RETENTION, stretch=20, off_stack=DAMAGES),
    Drill("ScrapeTargetDown", "a monitored stack component stops", action=STOP_COMPONENT,
          stretch=12),
    Drill("AlertmanagerConfigReloadFailed", "a configuration it cannot parse, then a reload",
          action=AM_BAD_CONFIG, stretch=12),
    Drill("AlertmanagerNotificationsFailing", "the Discord webhook refuses every message",
          action=CHANNEL_REFUSES, stretch=12, labels={"integration": "discord"}, off_stack=DAMAGES),
    Drill("GrafanaDown", "Grafana stops", action=STOP_GRAFANA, native=False),
    Drill("LokiDiscardedSamples", "a line a month old is pushed to Loki", action=OLD_LOG_LINE,
          native=False),
    Drill("PromtailRequestErrors", "Loki stops: Promtail's pushes fail", action=STOP_LOKI,
          native=False),
    # A bot host's agent: AgentDown wants 2 minutes without a sample, then `for: 3m`.
    Drill("AgentDown", "the bot host's agent stops", action=STOP_AGENT, patience=420,
          off_stack="the agent is on the bot host: `make down-agent` there, `make up-agent` after"),
    # `for: 5m` after the survivor has seen its peer leave: 4x makes the 190 s 13 min.
    Drill("AlertmanagerClusterMemberLost", "one Alertmanager of the HA pair stops",
          action=STOP_AM_PEER, stretch=4),
    # `for: 30m`: 12x makes the 190 s 38 min. A filesystem of its own, 16 MiB, is filled.
    Drill("HostDiskFillingUp", "a small filesystem is filled to 97%", action=FILL_DISK,
          stretch=12, off_stack="it would fill one of the host's real filesystems"),
    Drill("LokiRequestErrors", "rule groups are written to Loki's read-only rule store: 500",
          action=LOKI_RULE_WRITES, native=False),
    Drill("PromtailDroppingEntries", "Loki stays stopped until Promtail gives up retrying",
          action=STOP_LOKI, native=False),
    Drill("LogShipperDown", "the log shipper make up started stops", action=STOP_SHIPPER,
          native=False),
    Drill("LogShipperNotSending", "Loki stops: the running shipper can send nothing",
          action=STOP_LOKI, native=False),
)  # fmt: skip

BY_ALERT: dict[str, Drill] = {drill.alert: drill for drill in DRILLS}
