"""Upstream release archives for the test tools: which file fits this machine, from where, checked.

The file for this OS and architecture is named in scripts/tools.toml ([releases.*]); it is fetched
from the release URL, or from $BOTWATCH_TOOLS_URL/<file> when that is set (a mirror or a folder,
file:// works too, holding the same files), and installed only when its sha256 equals the pin.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "BOTWATCH_TOOLS_URL"
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class SourceUnusable(RuntimeError):
    """A source cannot provide a tool here; the message says why."""


class SourceFailed(SourceUnusable):
    """A source that exists here failed (download, refused namespace): worth telling the user even
    when a later source then provided the tool."""


class ChecksumMismatch(RuntimeError):
    """A downloaded file is not the one pinned: nothing is installed from it, and no other source
    is tried for that tool (a wrong file is a problem to look at, not to route around)."""


def this_platform() -> str:
    """`os-arch` in the release's terms (linux-amd64, darwin-arm64, …) for this machine."""
    system = platform.system().lower()
    arch = _ARCHES.get(platform.machine().lower(), platform.machine().lower())
    return f"{system}-{arch}"


@dataclass(frozen=True)
class ReleaseFile:
    """One tool's file of one release for one platform."""

    name: str  # the release's name in tools.toml, e.g. "prometheus"
    version: str
    file: str
    url: str
    sha256: str
    member: str | None  # the tool's path inside a .tar.gz; None for a bare binary

    @classmethod
    def pick(cls, name: str, spec: dict, tool: str, plat: str) -> ReleaseFile:
        sha256 = spec["sha256"].get(plat)
        if sha256 is None:
            raise SourceUnusable(
                f"no sha256 is pinned for the {name} {spec['version']} release on {plat} in "
                "scripts/tools.toml"
            )
        file, member, url = names(spec, tool, plat)
        return cls(name, spec["version"], file, url, sha256, member)

    def source_url(self) -> str:
        mirror = os.environ.get(MIRROR_ENV, "").rstrip("/")
        return f"{mirror}/{self.file}" if mirror else self.url

    def fetch(self, cache: Path) -> Path:
        """The verified file in `cache`, downloaded first unless already there and intact."""
        path = cache / self.file
        if path.exists() and _sha256(path.read_bytes()) == self.sha256:
            return path
        url = self.source_url()
        via = f" ({MIRROR_ENV})" if os.environ.get(MIRROR_ENV) else ""
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceFailed(f"cannot download {url}{via}: {reason}") from exc
        digest = _sha256(data)
        if digest != self.sha256:
            raise ChecksumMismatch(
                f"checksum mismatch for {self.file} from {url}{via}: sha256 is {digest}, "
                f"scripts/tools.toml pins {self.sha256}; nothing was installed from it"
            )
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)
        return path

    def install(self, cache: Path, tool: str) -> Path:
        """Fetch, verify and unpack; returns the tool's executable."""
        archive = self.fetch(cache)
        folder = cache / f"{self.file}.d"
        executable = folder / (self.member or tool)
        if executable.exists():
            return executable
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if self.member is None:
            shutil.copyfile(archive, executable)
        else:
            try:
                with tarfile.open(archive) as tar:
                    tar.extractall(folder, filter="data")
            except tarfile.TarError as exc:
                raise SourceUnusable(f"cannot unpack {self.file}: {exc}") from exc
            if not executable.is_file():
                raise SourceUnusable(f"{self.file} holds no {self.member}")
        executable.chmod(0o755)
        return executable


def names(spec: dict, tool: str, plat: str) -> tuple[str, str | None, str]:
    """A release's file name, the tool's path inside it (None: the file is the tool), and URL."""
    os_name, arch = plat.split("-", 1)
    fields = {
        "version": spec["version"],
        "os": os_name,
        "arch": spec.get("arch_names", {}).get(arch, arch),
        "tool": tool,
    }
    file = spec["file"].format(**fields)
    member = spec.get("member")
    return (
        file,
        member.format(**fields) if member else None,
        spec["url"].format(file=file, **fields),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
