"""A tools mirror on 127.0.0.1 for testing the bootstrap's upstream path for real.

The release files named in scripts/tools.toml cannot be fetched here, so the mirror serves files of
the same names and layout built from the binaries this machine has (.tools/bin), and a copy of
tools.toml whose sha256 pins are those files' digests: the bootstrap then downloads, checks and
unpacks exactly as it would from the release pages or a user's own BOTWATCH_TOOLS_URL.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import re
import tarfile
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tool_release import names, this_platform

# The real program behind one of bootstrap_tools' launchers (`... sh -c '...' <real> "$@"`).
_LAUNCHED = re.compile(r"' (\S+) \"\$@\"\n?$")


def real_binary(installed: Path) -> Path:
    """The executable behind .tools/bin/<tool>: a symlink's target, or a launcher's program."""
    if installed.is_symlink():
        return installed.resolve()
    text = installed.read_bytes()[:4096]
    if text.startswith(b"#!"):
        match = _LAUNCHED.search(text.decode())
        if match:
            return Path(match.group(1))
    return installed


def _tar_gz(members: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    # Level 1: the point is a real gzip stream, not a small one.
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for name, source in members.items():
            tar.add(source, arcname=name)
    return buffer.getvalue()


def build_mirror(config_path: Path, tools_bin: Path, folder: Path) -> str:
    """Write every release file for this platform into `folder`; returns tools.toml for them.

    A release's members come from the installed tools of the same name (prometheus and promtool
    for the prometheus release, ...); the returned TOML is the file at `config_path` with this
    platform's sha256 pins replaced by (or, where none is pinned, given) the digests of the files
    written.
    """
    plat = this_platform()
    text = config_path.read_text()
    config = tomllib.loads(text)
    by_release: dict[str, list[str]] = {}
    for name, spec in config["tools"].items():
        if "release" in spec:
            by_release.setdefault(spec["release"], []).append(name)
    for release, tools in by_release.items():
        spec = config["releases"][release]
        layout = {tool: names(spec, tool, plat) for tool in tools}
        file, member, _ = layout[tools[0]]
        if member is None:
            data = real_binary(tools_bin / tools[0]).read_bytes()
        else:
            data = _tar_gz({layout[t][1]: real_binary(tools_bin / t) for t in tools})
        (folder / file).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        pinned = spec["sha256"].get(plat)
        if pinned:
            text = text.replace(pinned, digest)
        else:
            heading = f"[releases.{release}]\n"
            text = text.replace(heading, f'{heading}sha256.{plat} = "{digest}"\n')
    return text


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (a port the OS picks); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: the test output shows the bootstrap's own lines."""
