"""The time zone file Alertmanager's quiet hours need, copied from this machine's zone database.

The Alertmanager image ships no zone database. Mounting the host's /usr/share/zoneinfo would fail
on Docker Desktop, which shares only the user's folders with its VM; a copy of the one zone in the
project's .generated/ folder works everywhere.
"""

from __future__ import annotations

import shutil
import zoneinfo
from importlib import resources
from pathlib import Path


def zone_source(zone: str):
    """The zone's TZif file: the system database first, then the `tzdata` package if installed."""
    for base in zoneinfo.TZPATH:
        candidate = Path(base) / zone
        if candidate.is_file():
            return candidate
    package, _, name = f"tzdata.zoneinfo/{zone}".rpartition("/")
    try:
        candidate = resources.files(package.replace("/", ".")) / name
    except ModuleNotFoundError:
        candidate = None
    if candidate is not None and candidate.is_file():
        return candidate
    raise FileNotFoundError(f"no zone file for {zone!r} on this machine (install tzdata)")


def copy_zone(zone: str, folder: Path) -> None:
    """Leave exactly the zone file for `zone` under folder (mounted as /usr/share/zoneinfo)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = folder / zone
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(zone_source(zone).read_bytes())
