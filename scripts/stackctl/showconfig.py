"""`make config`: validate .env and show the effective configuration, writing nothing.

It needs no Docker engine: compose.yaml is rendered by `make tools`' standalone docker-compose or by
Docker's Compose plugin, and the Alertmanager config is rendered into a temporary folder (`make up`
is what writes .generated/ and .secrets/).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TextIO

from .alerting import render as render_alertmanager
from .docker import Compose, DockerUnavailable, compose_for_rendering
from .up import load_settings, report

NO_ENV = (
    "No .env yet: `make up` creates it on its first run (with a generated Grafana password), or "
    "copy .env.example to .env and set GRAFANA_ADMIN_PASSWORD; `make config` only reads it."
)


def show_config(root: Path, *, docker: str = "docker", out: TextIO = sys.stdout) -> int:
    """Print the rendered compose file and Alertmanager config; 1 if anything kept it from that."""
    if not (root / ".env").exists():
        print(NO_ENV, file=out)
        return 1
    settings, problems = load_settings(root, out)
    if problems:
        report(problems, out)
        return 1
    code = 0
    try:
        compose = Compose(root, compose_for_rendering(root, docker))
    except DockerUnavailable as missing:
        print(f"compose.yaml not rendered: {missing}", file=out)
        code = 1
    else:
        result = compose.run("config", capture=True)
        out.write(result.stdout + result.stderr)
        code = result.returncode
    with tempfile.TemporaryDirectory() as folder:
        channels = render_alertmanager(settings, Path(folder))
        print(f"# Alertmanager (as `make up` writes it), channels: {channels or 'none'}", file=out)
        out.write((Path(folder) / "alertmanager.yml").read_text())
    return code
