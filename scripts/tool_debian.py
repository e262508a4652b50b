"""Debian's packages of the test tools, fetched without touching the system's apt configuration.

Only on Debian: the machine's own Debian mirror (read from its apt sources, never a hard-coded host)
is pointed at the suite in scripts/tools.toml through a private configuration under .tools/apt/,
and the package is unpacked with `dpkg-deb -x` under .tools/pkgs/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tool_release import SourceFailed, SourceUnusable

# Where Debian's alertmanager looks for its built-in templates (it does not embed them).
TEMPLATE_DIR = Path("/usr/share/prometheus/alertmanager")


def debian_mirrors(etc: Path) -> list[str]:
    """The Debian archive URIs this machine's apt is configured with (security mirrors excluded)."""
    uris: list[str] = []
    for sources in sorted(etc.glob("sources.list.d/*.sources")):
        for block in sources.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in block.splitlines() if re.match(r"^[A-Za-z-]+:", line)
            )
            if "deb" in fields.get("Types", "").split():
                uris += fields.get("URIs", "").split()
    for path in [etc / "sources.list", *sorted(etc.glob("sources.list.d/*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                fields = re.sub(r"\[[^]]*\]", "", line).split()
                if len(fields) >= 3 and fields[0] == "deb":
                    uris.append(fields[1])
    # Only mirrors of the Debian archive carry the suite: Ubuntu's archive, security and
    # third-party repositories do not.
    return [u for u in dict.fromkeys(uris) if "/debian" in u and "security" not in u]


class DebianSource:
    """apt-get download through a private configuration under .tools/apt/ (system apt untouched)."""

    def __init__(self, state: Path, suite: str, keyring: str, etc: Path) -> None:
        self.state = state
        self.suite = suite
        self.keyring = keyring
        self.etc = etc
        self._ready = False

    def _options(self) -> list[str]:
        return [
            "-o", f"Dir::Etc::SourceList={self.state / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={self.state / 'lists'}",
            "-o", f"Dir::Cache={self.state / 'cache'}",
            "-o", "Dir::State::status=/dev/null",
            "-o", "Debug::NoLocking=1",
            # apt's _apt sandbox user cannot write into a private folder owned by root.
            *(["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []),
        ]  # fmt: skip

    def _prepare(self) -> None:
        if self._ready:
            return
        missing = [c for c in ("apt-get", "apt-cache", "dpkg-deb") if not shutil.which(c)]
        if missing:
            raise SourceUnusable(f"no Debian packages: {', '.join(missing)} not found (no apt)")
        mirrors = debian_mirrors(self.etc)
        if not mirrors:
            raise SourceUnusable(f"no Debian packages: no Debian archive in {self.etc}'s sources")
        (self.state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        (self.state / "sources.list").write_text(
            "".join(f"deb [signed-by={self.keyring}] {m} {self.suite} main\n" for m in mirrors)
        )
        run = subprocess.run(
            ["apt-get", *self._options(), "update"], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            raise SourceFailed(
                f"apt-get update of {self.suite} failed: {run.stderr.strip()[-300:]}"
            )
        self._ready = True

    def candidate(self, package: str) -> str:
        self._prepare()
        out = subprocess.run(
            ["apt-cache", *self._options(), "policy", package],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        match = re.search(r"Candidate:\s*(\S+)", out.stdout)
        if not match or match.group(1) == "(none)":
            raise SourceUnusable(f"Debian {self.suite} has no package {package}")
        return match.group(1)

    def extract(self, package: str, dest: Path) -> str:
        """Download and unpack a package into dest; returns the Debian version."""
        version = self.candidate(package)
        debs = self.state / "debs"
        debs.mkdir(exist_ok=True)
        deb = next(debs.glob(f"{package}_{version.replace(':', '%3a')}_*.deb"), None)
        if deb is None:
            run = subprocess.run(
                ["apt-get", *self._options(), "download", f"{package}={version}"],
                cwd=debs, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if run.returncode != 0:
                raise SourceFailed(
                    f"apt-get download {package} failed: {run.stderr.strip()[-300:]}"
                )
            deb = next(debs.glob(f"{package}_*.deb"))
        dest.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(
            ["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            raise SourceUnusable(
                f"dpkg-deb could not unpack {deb.name}: {run.stderr.strip()[-300:]}"
            )
        return version


# --- Debian's alertmanager templates ----------------------------------------------------------


def _overlay_command(share: Path) -> tuple[str, str]:
    """The unshare flags and the mount that show `share` over /usr/share in a private namespace."""
    flags = "-m" if os.geteuid() == 0 else "-rm"
    return flags, f"mount -t overlay overlay -o lowerdir={share}:/usr/share /usr/share"


def overlay_refusal(share: Path) -> str | None:
    """Why the private overlay cannot be made here (no `unshare`, or refused), or None if it can.

    Containers, hardened kernels and Ubuntu 24.04's AppArmor default refuse unprivileged user
    namespaces; the probe runs the same command the launcher would, with `true` as the program.
    """
    flags, mount = _overlay_command(share)
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    run = subprocess.run(
        ["unshare", flags, "sh", "-c", f"{mount} && exec true"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if run.returncode == 0:
        return None
    detail = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
    return f"`unshare {flags}` was refused ({detail})"


def template_launcher(real: Path, share: Path) -> str:
    """A launcher giving Debian's alertmanager its templates in a private mount namespace.

    An overlay of the extracted usr/share over /usr/share exists only for this process: nothing is
    written to the system, and it works as root (`unshare -m`) or as a user (`unshare -rm`).
    """
    flags, mount = _overlay_command(share)
    return (
        "#!/bin/sh\n"
        "# Generated by scripts/bootstrap_tools.py: Debian's build, its templates made visible.\n"
        f'exec unshare {flags} sh -c \'{mount} && exec "$0" "$@"\' {real} "$@"\n'
    )
