"""Prometheus relabelling (replace, keep, drop), enough to run promtail's relabel_configs in tests.

Semantics from the Prometheus configuration reference: source label values joined by `separator`
(default ";"), matched by the fully anchored `regex` (default "(.*)"), `replacement` (default "$1")
expanded with the groups; an empty result of a replace leaves the target unset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_GROUP = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def relabel(labels: Mapping[str, str], configs: list[dict[str, Any]]) -> dict[str, str] | None:
    """The label set after `configs`, or None when a keep/drop rule discards the target."""
    out = dict(labels)
    for rule in configs:
        action = rule.get("action", "replace")
        value = rule.get("separator", ";").join(
            out.get(n, "") for n in rule.get("source_labels", [])
        )
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if (action == "keep" and match is None) or (action == "drop" and match is not None):
            return None
        if action == "replace" and match is not None:
            result = _expand(rule.get("replacement", "$1"), match.groups())
            if result:
                out[rule["target_label"]] = result
            else:
                out.pop(rule["target_label"], None)
    return {k: v for k, v in out.items() if not k.startswith("__")}


def _expand(replacement: str, groups: tuple[str | None, ...]) -> str:
    """`replacement` with $1 / ${1} replaced by the regex groups (missing groups are empty)."""

    def group(ref: re.Match[str]) -> str:
        name = ref.group(1) or ref.group(2)
        index = int(name) if name.isdigit() else 0
        return (groups[index - 1] or "") if 0 < index <= len(groups) else ""

    return _GROUP.sub(group, replacement)
