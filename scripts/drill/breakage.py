"""The files the stack drills break things with: used on the running stack (`make drill`) and on
the processes of the native test alike, so both break the same way."""

from __future__ import annotations

import yaml

# A rule file Prometheus refuses at load: its reload fails and it keeps the previous rules.
UNPARSABLE_RULES = (
    "groups:\n  - name: drill-broken\n    rules:\n      - alert: Broken\n        expr: sum((\n"
)
# Loads fine, fails at every evaluation: two series that become one label set once their names
# are dropped ("vector cannot contain metrics with the same labelset").
FAILING_RULES = yaml.safe_dump(
    {
        "groups": [
            {
                "name": "drill-failing",
                "rules": [
                    {
                        "record": "drill:duplicate:zero",
                        "expr": '{__name__=~"up|scrape_duration_seconds"} * 0',
                    }
                ],
            }
        ]
    },
    sort_keys=False,
)
UNPARSABLE_ALERTMANAGER = "route: [this is not a route\n"
TINY_RETENTION_SIZE = "1KB"
