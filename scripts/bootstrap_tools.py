"""Install the real test tools into .tools/bin/ without Docker and without touching the system.

Sources, in order (DESIGN §6): a binary already on PATH of an accepted major.minor; Debian's
package fetched through a private apt configuration that points the machine's own Debian mirror at
the suite in scripts/tools.toml; the upstream release archive, checked against its sha256.
Idempotent: a tool already in .tools/bin/ with an accepted version is kept. Prints, per tool, the
source and version it used; exits non-zero naming every tool that no source could provide.

Usage: python3 scripts/bootstrap_tools.py [--root DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# "version 3.5.3", "v2.40.3", or a bare "2.11.4" at the start of a line (Debian's caddy).
VERSION_RE = re.compile(r"(?:version\s+|v|^)(\d+)\.(\d+)\.(\d+)", re.MULTILINE)
# Where Debian's alertmanager looks for its built-in templates (it does not embed them).
DEBIAN_TEMPLATE_DIR = Path("/usr/share/prometheus/alertmanager")


class ToolError(RuntimeError):
    """A source could not provide a tool; the message says why."""


@dataclass(frozen=True)
class Tool:
    name: str
    series: tuple[str, ...]
    package: str
    path: str
    upstream: str | None
    needs_templates: bool
    # Debian's victoria-metrics prints an empty version: its package's version is recorded instead.
    version_from_package: bool


def load_tools(config: dict) -> list[Tool]:
    return [
        Tool(
            name=name,
            series=tuple(spec["series"]),
            package=spec["package"],
            path=spec["path"],
            upstream=spec.get("upstream"),
            needs_templates=spec.get("needs_templates", False),
            version_from_package=spec.get("version_from_package", False),
        )
        for name, spec in config["tools"].items()
    ]


def binary_version(binary: Path | str) -> str | None:
    """The x.y.z a tool prints for `--version` (or `version`), or None if it prints none."""
    for args in (["--version"], ["version"]):
        try:
            out = subprocess.run(
                [str(binary), *args], capture_output=True, text=True, timeout=30, check=False
            )
        except OSError:
            return None
        match = VERSION_RE.search(out.stdout + out.stderr)
        if match:
            return ".".join(match.groups())
    return None


def version_stamp(target: Path) -> Path:
    """Where the package version of a tool that prints none is recorded, beside its link."""
    return target.with_name(f".{target.name}.version")


def installed_version(tool: Tool, target: Path) -> str | None:
    """The x.y.z of an installed tool: what it prints, or the recorded version of its package."""
    if not tool.version_from_package:
        return binary_version(target)
    stamp = version_stamp(target)
    match = re.match(r"(?:\d+:)?(\d+\.\d+\.\d+)", stamp.read_text()) if stamp.exists() else None
    return match.group(1) if match else None


def accepted(version: str | None, series: tuple[str, ...]) -> bool:
    return version is not None and any(version.startswith(s + ".") for s in series)


# --- Debian -----------------------------------------------------------------------------------


def debian_mirrors(etc: Path = Path("/etc/apt")) -> list[str]:
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
    # Only mirrors of the Debian archive carry the suite; skip security and third-party repos.
    return [u for u in dict.fromkeys(uris) if "/debian" in u and "security" not in u]


class DebianSource:
    """apt-get download through a private configuration under .tools/apt/ (system apt untouched)."""

    def __init__(self, state: Path, suite: str, keyring: str) -> None:
        self.state = state
        self.suite = suite
        self.keyring = keyring
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
        if not shutil.which("apt-get"):
            raise ToolError("apt-get is not available (not a Debian-based machine)")
        mirrors = debian_mirrors()
        if not mirrors:
            raise ToolError("no Debian mirror found in /etc/apt sources")
        (self.state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        (self.state / "sources.list").write_text(
            "".join(f"deb [signed-by={self.keyring}] {m} {self.suite} main\n" for m in mirrors)
        )
        run = subprocess.run(
            ["apt-get", *self._options(), "update"], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            raise ToolError(f"apt-get update of {self.suite} failed: {run.stderr.strip()[-300:]}")
        self._ready = True

    def candidate(self, package: str) -> str:
        self._prepare()
        out = subprocess.run(
            ["apt-cache", *self._options(), "policy", package],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        match = re.search(r"Candidate:\s*(\S+)", out.stdout)
        if not match or match.group(1) == "(none)":
            raise ToolError(f"Debian {self.suite} has no package {package}")
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
                raise ToolError(f"apt-get download {package} failed: {run.stderr.strip()[-300:]}")
            deb = next(debs.glob(f"{package}_*.deb"))
        dest.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(
            ["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            raise ToolError(f"dpkg-deb could not unpack {deb.name}: {run.stderr.strip()[-300:]}")
        return version


# --- upstream ---------------------------------------------------------------------------------


def fetch_upstream(spec: dict, dest: Path) -> Path:
    """Download and unpack an upstream archive after checking its sha256; returns its folder."""
    archive = dest / Path(spec["url"]).name
    if not archive.exists():
        try:
            with urllib.request.urlopen(spec["url"], timeout=60) as response:
                data = response.read()
        except OSError as exc:
            raise ToolError(f"cannot download {spec['url']}: {exc}") from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest != spec["sha256"]:
            raise ToolError(f"checksum mismatch for {spec['url']}: got {digest}")
        archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / archive.name.removesuffix(".tar.gz")


# --- install ----------------------------------------------------------------------------------


def template_wrapper(real: Path, share: Path) -> str:
    """A launcher giving Debian's alertmanager its templates in a private mount namespace.

    An overlay of the extracted usr/share over /usr/share exists only for this process: nothing is
    written to the system, and it works as root (`unshare -m`) or as a user (`unshare -rm`).
    """
    flags = "-m" if os.geteuid() == 0 else "-rm"
    mount = f"mount -t overlay overlay -o lowerdir={share}:/usr/share /usr/share"
    return (
        "#!/bin/sh\n"
        "# Generated by scripts/bootstrap_tools.py: Debian's build, its templates made visible.\n"
        f'exec unshare {flags} sh -c \'{mount} && exec "$0" "$@"\' {real} "$@"\n'
    )


class Installer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.pkgs = root / "pkgs"
        self.config = tomllib.loads((REPO / "scripts" / "tools.toml").read_text())
        self.debian = DebianSource(
            root / "apt", self.config["debian"]["suite"], self.config["debian"]["keyring"]
        )

    def install(self, tool: Tool) -> tuple[str, str]:
        """Put a working `tool` into .tools/bin; returns (source, version)."""
        target = self.bin / tool.name
        current = installed_version(tool, target) if target.exists() else None
        if accepted(current, tool.series):
            return "cached", current or ""
        errors = []
        for source in (self._from_path, self._from_debian, self._from_upstream):
            try:
                label = source(tool, target)
            except ToolError as exc:
                errors.append(str(exc))
                continue
            version = installed_version(tool, target)
            if accepted(version, tool.series):
                return label, version or ""
            errors.append(f"{label} gave version {version}, need {'/'.join(tool.series)}.x")
            target.unlink(missing_ok=True)
        raise ToolError("; ".join(errors))

    def _link(self, real: Path, target: Path, wrap_share: Path | None = None) -> None:
        target.unlink(missing_ok=True)
        version_stamp(target).unlink(missing_ok=True)
        if wrap_share is None:
            target.symlink_to(real)
        else:
            target.write_text(template_wrapper(real, wrap_share))
            target.chmod(0o755)

    def _from_path(self, tool: Tool, target: Path) -> str:
        names = [tool.name, Path(tool.path).name]
        dirs = os.environ.get("PATH", "").split(os.pathsep)
        search = os.pathsep.join(d for d in dirs if d != str(self.bin))
        for name in names:
            found = shutil.which(name, path=search)
            if found and accepted(binary_version(found), tool.series):
                self._link(Path(found), target)
                return f"PATH ({found})"
        raise ToolError(f"no {tool.name} of {'/'.join(tool.series)}.x on PATH")

    def _from_debian(self, tool: Tool, target: Path) -> str:
        dest = self.pkgs / tool.package
        unpacked = dest / ".debian-version"
        if not (dest / tool.path).exists() or not unpacked.exists():
            shutil.rmtree(dest, ignore_errors=True)
            unpacked.parent.mkdir(parents=True, exist_ok=True)
            unpacked.write_text(self.debian.extract(tool.package, dest))
        version = unpacked.read_text()
        wrap = None
        if tool.needs_templates and not (DEBIAN_TEMPLATE_DIR / "default.tmpl").exists():
            wrap = dest / "usr" / "share"
        self._link(dest / tool.path, target, wrap)
        if tool.version_from_package:
            version_stamp(target).write_text(version)
        return f"Debian {self.debian.suite} package {tool.package} {version}"

    def _from_upstream(self, tool: Tool, target: Path) -> str:
        if not tool.upstream:
            raise ToolError(f"no upstream archive configured for {tool.name}")
        spec = self.config["upstream"][tool.upstream]
        dest = self.root / "upstream"
        dest.mkdir(parents=True, exist_ok=True)
        folder = fetch_upstream(spec, dest)
        self._link(folder / tool.name, target)
        return f"upstream {spec['url']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO / ".tools")
    args = parser.parse_args(argv)
    installer = Installer(args.root.resolve())
    installer.bin.mkdir(parents=True, exist_ok=True)
    failed = []
    for tool in load_tools(installer.config):
        try:
            source, version = installer.install(tool)
        except ToolError as exc:
            failed.append(tool.name)
            print(f"  {tool.name:17} FAILED: {exc}", file=sys.stderr)
            continue
        print(f"  {tool.name:17} {version:10} from {source}")
    if failed:
        print(
            f"make tools: could not provide {', '.join(failed)}. Install them on PATH "
            "(matching the series in scripts/tools.toml) or give this machine access to a "
            "Debian mirror or to github.com, then run `make tools` again.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
