"""Promtail's docker_sd as a test can run it: which containers Docker lists, then the relabelling.

Discovery: each docker_sd_configs entry lists the containers Docker's ContainerList `filters`
match (Docker Engine API: a `label` value is `key` or `key=value`; every value of one filter and
every filter of one entry must match); the entries add up. Relabelling (Prometheus semantics:
source label values joined by `separator`, default ";", matched by the fully anchored `regex`,
default "(.*)", `replacement`, default "$1", expanded with the groups; an empty result leaves the
target label unset) then only sets labels: Promtail's docker targets ignore keep/drop results
(grafana/loki#8620), so this model refuses them instead of pretending they select anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_GROUP = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def listed(docker_labels: Mapping[str, str], sd_config: Mapping[str, Any]) -> bool:
    """Whether Docker lists a container with these labels for one docker_sd_configs entry."""
    for item in sd_config.get("filters", []):
        if item["name"] != "label":
            raise NotImplementedError(f"Docker filter {item['name']!r} is not modelled")
        for value in item["values"]:
            key, has_value, wanted = value.partition("=")
            if key not in docker_labels or (has_value and docker_labels[key] != wanted):
                return False
    return True


def discovered(docker_labels: Mapping[str, str], sd_configs: list[Mapping[str, Any]]) -> bool:
    """Whether any docker_sd_configs entry lists the container (entries add up)."""
    return any(listed(docker_labels, sd) for sd in sd_configs)


def relabel(labels: Mapping[str, str], configs: list[dict[str, Any]]) -> dict[str, str]:
    """The stream labels after `configs` (replace rules only; keep/drop would be ignored)."""
    out = dict(labels)
    for rule in configs:
        action = rule.get("action", "replace")
        if action != "replace":
            raise ValueError(f"{action!r}: Promtail's docker targets ignore it (loki#8620)")
        value = rule.get("separator", ";").join(
            out.get(n, "") for n in rule.get("source_labels", [])
        )
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if match is not None:
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
