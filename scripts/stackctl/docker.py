"""Finding Docker and Compose v2, and running `docker compose` for this project."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

# A standalone Compose v2 renders the project with no Docker at all.
TOOLS_HINT = "run `make tools` (it puts docker-compose in .tools/bin/, no Docker needed)"


class DockerUnavailable(RuntimeError):
    """Docker or Compose v2 is missing or not usable; the message says what to do."""


def check_docker(docker: str = "docker") -> None:
    """Raise DockerUnavailable with guidance unless the Docker engine and Compose v2 answer."""
    if shutil.which(docker) is None:
        raise DockerUnavailable(
            "Docker is not installed. Install Docker Engine with the Compose v2 plugin "
            "(https://docs.docker.com/engine/install/), then run `make up` again."
        )
    info = subprocess.run(
        [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True
    )
    if info.returncode != 0 or not info.stdout.strip():
        raise DockerUnavailable(
            "The Docker engine is not reachable (`docker info` failed). Start it (e.g. `sudo "
            "systemctl start docker`) and make sure your user may use it (the `docker` group)."
        )
    if not has_compose_plugin(docker):
        raise DockerUnavailable(
            "Docker Compose v2 is missing (`docker compose version` failed). Install the "
            "docker-compose-plugin package; the old `docker-compose` v1 is not supported."
        )


def has_compose_plugin(docker: str) -> bool:
    """Whether `docker compose` is Compose v2 or later (it answers without a Docker engine)."""
    version = subprocess.run(
        [docker, "compose", "version", "--short"], capture_output=True, text=True
    )
    match = re.match(r"v?(\d+)\.", version.stdout.strip())
    return version.returncode == 0 and match is not None and int(match.group(1)) >= 2


def compose_for_rendering(root: Path, docker: str = "docker") -> tuple[str, ...]:
    """A Compose v2 that renders the project without an engine: `make tools`' standalone binary,
    else Docker's plugin. Raises DockerUnavailable saying what is missing and how to get it."""
    standalone = root / ".tools" / "bin" / "docker-compose"
    if os.access(standalone, os.X_OK):
        return (str(standalone),)
    if shutil.which(docker) is None:
        raise DockerUnavailable(
            f"Compose v2 is needed to render compose.yaml and none was found: {TOOLS_HINT}, or "
            "install Docker with its Compose v2 plugin."
        )
    if not has_compose_plugin(docker):
        raise DockerUnavailable(
            "Docker's Compose v2 plugin is missing (`docker compose version` failed): "
            f"{TOOLS_HINT}, or install the docker-compose-plugin package."
        )
    return (docker, "compose")


class Compose:
    """`docker compose` bound to one of this repository's compose files (the stack's, or the
    bot-host agent's compose.agent.yaml) and .env.

    A compose.override.yaml beside compose.yaml is merged in, as `docker compose` itself does when
    given no file: the place for this host's own changes (README "Scaling": an Alertmanager
    gossiping with another host), which git ignores.
    """

    def __init__(
        self,
        root: Path,
        command: tuple[str, ...] = ("docker", "compose"),
        *,
        file: str = "compose.yaml",
    ) -> None:
        self.root = root
        # The override is the stack's; the agent's file stands alone.
        override = [root / "compose.override.yaml"] if file == "compose.yaml" else []
        files = [root / file, *override]
        self.base = [
            *command,
            *("--project-directory", str(root)),
            *(arg for f in files if f.is_file() for arg in ("-f", str(f))),
            *("--env-file", str(root / ".env")),
        ]

    def run(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, *args], cwd=self.root, text=True, capture_output=capture)

    def states(self) -> dict[str, str]:
        """Service name → health ('healthy', 'starting', 'unhealthy') or state when no health."""
        out = self.run("ps", "--all", "--format", "json", capture=True).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
        return {row["Service"]: row.get("Health") or row.get("State", "") for row in rows}
