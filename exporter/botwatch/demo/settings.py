"""Demo knobs, all from the environment so tests and the stack can tune the traffic."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass(frozen=True)
class DemoSettings:
    """Traffic shape of the offline demo.

    rate              peak events per second (messages, commands, interactions)
    day               length in seconds of one simulated day (traffic follows a sine)
    burst_every       seconds between error bursts (0: never); burst_length their length
    force_burst       1: the error burst never ends (for alert tests)
    spike_every       seconds between gateway latency spikes / slow backends (0: never)
    reconnect_every   seconds between gateway disconnect + resume (0: never)
    rate_limit        share of REST calls answered 429
    stall_task        name of a tasks loop that fails on every iteration (sync_stats)
    seed              random seed (empty: random)
    """

    rate: float = 3.0
    day: float = 1800.0
    burst_every: float = 600.0
    burst_length: float = 90.0
    force_burst: bool = False
    spike_every: float = 420.0
    spike_length: float = 90.0
    reconnect_every: float = 240.0
    rate_limit: float = 0.02
    stall_task: str | None = None
    seed: int | None = None

    @classmethod
    def from_env(cls) -> DemoSettings:
        """Read ``BOTWATCH_DEMO_*``."""
        seed = os.environ.get("BOTWATCH_DEMO_SEED", "").strip()
        return cls(
            rate=_float("BOTWATCH_DEMO_RATE", cls.rate),
            day=_float("BOTWATCH_DEMO_DAY", cls.day),
            burst_every=_float("BOTWATCH_DEMO_BURST_EVERY", cls.burst_every),
            burst_length=_float("BOTWATCH_DEMO_BURST_LENGTH", cls.burst_length),
            force_burst=os.environ.get("BOTWATCH_DEMO_FORCE_BURST", "") in ("1", "true", "yes"),
            spike_every=_float("BOTWATCH_DEMO_SPIKE_EVERY", cls.spike_every),
            spike_length=_float("BOTWATCH_DEMO_SPIKE_LENGTH", cls.spike_length),
            reconnect_every=_float("BOTWATCH_DEMO_RECONNECT_EVERY", cls.reconnect_every),
            rate_limit=_float("BOTWATCH_DEMO_RATE_LIMIT", cls.rate_limit),
            stall_task=os.environ.get("BOTWATCH_DEMO_STALL_TASK", "").strip() or None,
            seed=int(seed) if seed else None,
        )
