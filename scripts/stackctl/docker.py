"""Finding Docker and Compose v2, and running `docker compose` for this project."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path


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
    version = subprocess.run(
        [docker, "compose", "version", "--short"], capture_output=True, text=True
    )
    match = re.match(r"v?(\d+)\.", version.stdout.strip())
    if version.returncode != 0 or not match or int(match.group(1)) < 2:
        raise DockerUnavailable(
            "Docker Compose v2 is missing (`docker compose version` failed). Install the "
            "docker-compose-plugin package; the old `docker-compose` v1 is not supported."
        )


class Compose:
    """`docker compose` bound to this repository's compose file and .env."""

    def __init__(self, root: Path, command: tuple[str, ...] = ("docker", "compose")) -> None:
        self.root = root
        self.base = [
            *command,
            *("--project-directory", str(root), "-f", str(root / "compose.yaml")),
            *("--env-file", str(root / ".env")),
        ]

    def run(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, *args], cwd=self.root, text=True, capture_output=capture)

    def states(self) -> dict[str, str]:
        """Service name → health ('healthy', 'starting', 'unhealthy') or state when no health."""
        out = self.run("ps", "--all", "--format", "json", capture=True).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
        return {row["Service"]: row.get("Health") or row.get("State", "") for row in rows}
