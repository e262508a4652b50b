"""A log line's own level, in the formats the stack's services write.

Prometheus, Alertmanager, Loki, Promtail and Grafana write logfmt (`level=error`; Go's slog writes
`level=ERROR`); the bot writes JSON with a `level` key (DESIGN §5). The demo bot's simulated
failures (loggers `demo.*`) are traffic, not faults, and have no level here.
"""

from __future__ import annotations

import json
import re

LOGFMT_LEVEL = re.compile(r'(?:^|\s)level="?([A-Za-z]+)')
ERROR_LEVELS = {"error", "err", "critical", "crit", "fatal", "panic", "alert", "emerg"}
SIMULATED = "demo"  # the demo bot's traffic loggers: demo, demo.* (botwatch/demo/)


def level_of(line: str) -> str | None:
    """The line's own level: a JSON object's `level`, or logfmt's `level=`; None if neither."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            logger = str(record.get("logger", ""))
            if logger == SIMULATED or logger.startswith(SIMULATED + "."):
                return None
            return str(record.get("level", "")).lower() or None
    match = LOGFMT_LEVEL.search(line)
    return match.group(1).lower() if match else None
