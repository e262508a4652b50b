"""Demo knobs, all from the environment so tests and the stack can tune the traffic."""

from __future__ import annotations

import os
from dataclasses import dataclass

HOUR = 3600.0


def _float(name: str, default: float | None = None) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def in_window(since_first: float, every: float, length: float) -> bool:
    """Whether a recurring window is open, ``since_first`` seconds after the first one opened.

    Windows open at 0, ``every``, 2 * ``every``, … and last ``length`` seconds; ``every`` <= 0
    means never, and nothing happens before the first one.
    """
    return every > 0 and since_first >= 0 and since_first % every < length


@dataclass(frozen=True)
class DemoSettings:
    """Traffic shape of the offline demo.

    Healthy by default, with incidents: the first ``first_incident`` seconds after start (so a
    new stack shows alerts firing and resolving), then one every ``burst_every`` seconds. An
    incident logs a critical line, drops and resumes the gateway, fails backends for
    ``burst_length`` seconds and makes them (and the gateway) slow for ``spike_length`` seconds.

    rate              peak events per second (messages, commands, interactions)
    day               length in seconds of one simulated day (traffic follows a sine)
    error_rate        share of backend calls that fail outside incidents
    first_incident    seconds from start to the first incident
    burst_every       seconds between incidents' error bursts (0: no incidents at all)
    burst_length      seconds an error burst lasts
    force_burst       1: the error burst never ends (for alert tests)
    spike_every       seconds between latency spikes / slow backends (0: never;
                      unset: with each error burst, so BURST_EVERY=0 silences both)
    spike_length      seconds a latency spike lasts
    reconnect_every   seconds between routine gateway disconnect + resume (0: never)
    rate_limit        share of REST calls answered 429 outside error bursts
    stall_task        name of a tasks loop that fails on every iteration (sync_stats)
    sync_every        seconds between sync_stats runs (drills shorten it: a loop's alerts
                      count in periods)
    seed              random seed (empty: random)

    Why these defaults (thresholds in prometheus/rules/): a failed backend call fails about
    half the commands that make one, so the baseline fails ~0.05 % of commands against a 0.5 %
    budget. BotCommandErrorRatioHigh (> 10 % over 5m, for 5m) needs about 5 minutes of a
    60 % backend failure rate, and BotCommandsSlow (p95 > 2.5 s, for 10m) 8 minutes of slow
    backends; such an incident costs about 80 seconds' worth of commands, so one every 8 hours
    spends ~70 % of the 30-day budget and no burn-rate alert fires once Prometheus has a few
    hours of history. 429s stay far below BotDiscordRateLimited's 2 a minute.
    """

    rate: float = 3.0
    day: float = 1800.0
    error_rate: float = 0.001
    first_incident: float = 60.0
    burst_every: float = 8 * HOUR
    burst_length: float = 300.0
    force_burst: bool = False
    spike_every: float | None = None
    spike_length: float = 480.0
    reconnect_every: float = 1 * HOUR
    rate_limit: float = 0.002
    stall_task: str | None = None
    sync_every: float = 30.0
    seed: int | None = None

    @classmethod
    def from_env(cls) -> DemoSettings:
        """Read ``BOTWATCH_DEMO_*``."""
        seed = os.environ.get("BOTWATCH_DEMO_SEED", "").strip()
        return cls(
            rate=_float("BOTWATCH_DEMO_RATE", cls.rate),
            day=_float("BOTWATCH_DEMO_DAY", cls.day),
            error_rate=_float("BOTWATCH_DEMO_ERROR_RATE", cls.error_rate),
            first_incident=_float("BOTWATCH_DEMO_FIRST_INCIDENT", cls.first_incident),
            burst_every=_float("BOTWATCH_DEMO_BURST_EVERY", cls.burst_every),
            burst_length=_float("BOTWATCH_DEMO_BURST_LENGTH", cls.burst_length),
            force_burst=os.environ.get("BOTWATCH_DEMO_FORCE_BURST", "") in ("1", "true", "yes"),
            spike_every=_float("BOTWATCH_DEMO_SPIKE_EVERY"),
            spike_length=_float("BOTWATCH_DEMO_SPIKE_LENGTH", cls.spike_length),
            reconnect_every=_float("BOTWATCH_DEMO_RECONNECT_EVERY", cls.reconnect_every),
            rate_limit=_float("BOTWATCH_DEMO_RATE_LIMIT", cls.rate_limit),
            stall_task=os.environ.get("BOTWATCH_DEMO_STALL_TASK", "").strip() or None,
            sync_every=_float("BOTWATCH_DEMO_SYNC_EVERY", cls.sync_every),
            seed=int(seed) if seed else None,
        )

    @property
    def spike_period(self) -> float:
        """Seconds between latency spikes: their own setting, else the error bursts'."""
        return self.burst_every if self.spike_every is None else self.spike_every
