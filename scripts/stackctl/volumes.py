"""Each data volume's size and the disk space left, for `make up` and `make ps`.

Prometheus caps its own size (PROMETHEUS_RETENTION_SIZE); Loki has no size-based retention, only a
period, so LOKI_DISK_BUDGET is checked here: over it, the report says so and what to change.
With the `host` profile, the HostDiskFillingUp alert watches the disk itself.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from .backup import ARCHIVER_SERVICE, BackupError, declared_volumes, effective_config
from .docker import Compose

# Docker prints sizes with go-units' decimal prefixes (HumanSize): 1kB = 1000 B.
DOCKER_UNITS = {"B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
# Settings use Prometheus' size units (as PROMETHEUS_RETENTION_SIZE), powers of 1024.
SETTING_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50}
# Volume (compose key) → the setting that caps it.
BUDGETS = {"loki-data": "LOKI_DISK_BUDGET", "prometheus-data": "PROMETHEUS_RETENTION_SIZE"}


@dataclass(frozen=True)
class Usage:
    sizes: dict[str, int]  # compose key → bytes, for each volume that exists
    free: int | None  # bytes left on the filesystem holding the volumes
    total: int | None


def docker_size(text: str) -> int:
    """Bytes of a size as `docker system df` prints it (``"1.5GB"``, ``"0B"``)."""
    match = re.fullmatch(r"([\d.]+)\s*([kKMGT]?B)", text.strip())
    if not match:
        raise ValueError(f"not a Docker size: {text!r}")
    return round(float(match.group(1)) * DOCKER_UNITS[match.group(2)])


def setting_size(text: str) -> int:
    """Bytes of a size setting such as ``10GB`` (Prometheus units, powers of 1024)."""
    match = re.fullmatch(r"(\d+)(B|KB|MB|GB|TB|PB)", text.strip())
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(match.group(1)) * SETTING_UNITS[match.group(2)]


def _human(size: int) -> str:
    for unit in ("TB", "GB", "MB", "KB"):
        if size >= SETTING_UNITS[unit]:
            return f"{size / SETTING_UNITS[unit]:.1f} {unit[0]}iB"
    return f"{size} B"


def report(usage: Usage, names: list[str], settings: Mapping[str, str]) -> list[str]:
    """One line per declared volume (size, and its budget when it has one), then free space."""
    lines = ["Data volumes:"]
    for key in names:
        if key not in usage.sizes:
            lines.append(f"  - {key:20} not created yet")
            continue
        size, line = usage.sizes[key], f"  {key:22} {_human(usage.sizes[key]):>10}"
        budget_key = BUDGETS.get(key)
        budget = setting_size(settings[budget_key]) if settings.get(budget_key) else None
        if budget is not None:
            line += f"  of {budget_key}={settings[budget_key]}"
            if size > budget:
                line = "  ✗ " + line[2:] + _OVER[budget_key]
        lines.append(line)
    if usage.free is not None and usage.total:
        share = usage.free / usage.total
        lines.append(f"  Disk: {_human(usage.free)} free of {_human(usage.total)} ({share:.0%})")
        if share < 0.1:
            lines.append(LOW_DISK)
    return lines


LOW_DISK = (
    "  ✗ Less than 10% of the disk is free: Prometheus, Loki and Docker stop writing when it is "
    "full. Lower the retention settings in .env or add disk."
)
_OVER = {
    "LOKI_DISK_BUDGET": " — over budget: lower LOKI_RETENTION_PERIOD (Loki deletes by age only), "
    "or raise the budget if the disk has room",
    "PROMETHEUS_RETENTION_SIZE": " — over the cap: Prometheus is deleting its oldest blocks",
}


def measure(compose: Compose, docker: str = "docker") -> tuple[list[str], Usage]:
    """The declared volumes' keys and what Docker reports about them."""
    config = effective_config(compose)
    volumes = declared_volumes(config)
    listed = subprocess.run([docker, "system", "df", "-v", "--format", "{{json .}}"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    if listed.returncode != 0:
        raise BackupError(f"`docker system df` failed: {listed.stderr.strip()}")
    by_name = {v["Name"]: v.get("Size", "0B") for v in json.loads(listed.stdout)["Volumes"] or []}
    sizes = {v.key: docker_size(by_name[v.name]) for v in volumes if v.name in by_name}
    free = total = None
    present = [v for v in volumes if v.name in by_name]
    if present:  # every volume lives in Docker's data root: one df tells the space left
        df = subprocess.run(
            [docker, "run", "--rm", "--network", "none", "--entrypoint", "df", "-v",
             f"{present[0].name}:/data:ro", config["services"][ARCHIVER_SERVICE]["image"],
             "-Pk", "/data"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        fields = df.stdout.splitlines()[-1].split() if df.returncode == 0 else []
        if len(fields) >= 4 and fields[1].isdigit() and fields[3].isdigit():
            total, free = int(fields[1]) * 1024, int(fields[3]) * 1024
    return [v.key for v in volumes], Usage(sizes, free, total)


def print_report(
    compose: Compose, settings: Mapping[str, str], out, docker: str = "docker"
) -> None:
    """Print the report; a Docker that cannot tell is said in one line, never an error."""
    try:
        names, usage = measure(compose, docker)
    except (BackupError, ValueError, KeyError) as exc:
        print(f"Data volumes: sizes unavailable ({exc})", file=out)
        return
    print("\n".join(report(usage, names, settings)), file=out)
