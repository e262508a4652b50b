"""`make backup` and `make restore`: every named volume compose declares, archived consistently.

Which volumes: read from `docker compose config` with every profile on, never from a list kept
here, so a volume a new service brings (long-term storage, a second replica) is covered the day
it is declared. Consistency: the services are stopped while their volumes are read (Prometheus'
TSDB, Loki's WAL and chunks, Grafana's SQLite database and Alertmanager's silences are all at
rest then), and started again afterwards; the stack is down for the seconds the archives take.

Archives are tar.gz streams written through `docker run` by a throw-away container of an image
the stack already pins (the Prometheus image is busybox-based, so it has tar and sh): no extra
image to pull, and the files on the host belong to the user who ran `make backup`.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .docker import Compose

# The service whose image runs tar for the backup (see the module docstring).
ARCHIVER_SERVICE = "prometheus"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Volume:
    key: str  # the name in compose.yaml (prometheus-data)
    name: str  # Docker's name, with the project prefix (botwatch_prometheus-data)

    @property
    def archive(self) -> str:
        return f"{self.key}.tar.gz"


class BackupError(RuntimeError):
    """Something the user must fix; the message says what."""


def effective_config(compose: Compose) -> dict:
    """The stack as Compose resolves it, every profile included (all declared volumes)."""
    result = compose.run("--profile", "*", "config", "--format", "json", capture=True)
    if result.returncode != 0:
        raise BackupError(f"`docker compose config` failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def declared_volumes(config: dict) -> list[Volume]:
    """Every named volume of the effective configuration, with Docker's name for it."""
    return [
        Volume(key, spec.get("name") or key)
        for key, spec in sorted((config.get("volumes") or {}).items())
    ]


def _docker(docker: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([docker, *args], check=False, **kwargs)


def _existing_volumes(docker: str) -> set[str]:
    listed = _docker(
        docker, "volume", "ls", "--format", "{{.Name}}", capture_output=True, text=True
    )
    if listed.returncode != 0:
        raise BackupError(f"`docker volume ls` failed: {listed.stderr.strip()}")
    return set(listed.stdout.split())


def _running_services(compose: Compose) -> list[str]:
    listed = compose.run("ps", "--services", "--status", "running", capture=True)
    return listed.stdout.split()


def _archiver(docker: str, image: str, volume: Volume, *command: str) -> list[str]:
    # Root inside the container: each service's files belong to its own user (10001, 472...).
    return [docker, "run", "--rm", "-i", "--user", "0:0", "--network", "none",
            "--entrypoint", "sh", "-v", f"{volume.name}:/data", image, "-c", *command]  # fmt: skip


def backup(compose: Compose, destination: Path, out: TextIO, *, docker: str = "docker") -> Path:
    """Archive every declared volume into a new folder under ``destination``; returns it."""
    config = effective_config(compose)
    volumes = declared_volumes(config)
    image = config["services"][ARCHIVER_SERVICE]["image"]
    existing = _existing_volumes(docker)
    folder = destination / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder.mkdir(parents=True)
    running = _running_services(compose)
    if running:
        print(f"Stopping {', '.join(running)} while their data is read…", file=out)
        compose.run("stop")
    archived, absent = {}, []
    try:
        for volume in volumes:
            if volume.name not in existing:
                absent.append(volume.key)
                print(
                    f"  - {volume.key:20} not created yet (its service never ran): skipped",
                    file=out,
                )
                continue
            command = _archiver(docker, image, volume, "tar czf - -C /data .")
            with (folder / volume.archive).open("wb") as target:
                done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=target,
                                      stderr=subprocess.PIPE, check=False)  # fmt: skip
            if done.returncode != 0:
                raise BackupError(f"archiving {volume.name} failed: {done.stderr.decode().strip()}")
            archived[volume.key] = volume.name
            size = (folder / volume.archive).stat().st_size
            print(f"  ✓ {volume.key:20} {size / 1e6:9.1f} MB  {volume.archive}", file=out)
    finally:
        if running:
            compose.run("start", *running)
    manifest = {"created": folder.name, "project": config.get("name"), "volumes": archived,
                "not_created": absent, "archiver_image": image}  # fmt: skip
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"Backup of {len(archived)} volume(s) in {folder}", file=out)
    return folder


def restore(compose: Compose, folder: Path, out: TextIO, *, docker: str = "docker") -> None:
    """Replace the content of each declared volume by its archive in ``folder``.

    The stack is taken down first (containers removed, volumes kept); start it with `make up`.
    A declared volume the backup lacks is left as it is, and said so.
    """
    if not (folder / MANIFEST).is_file():
        raise BackupError(f"{folder} is not a backup made by `make backup` (no {MANIFEST})")
    config = effective_config(compose)
    image = config["services"][ARCHIVER_SERVICE]["image"]
    project = config.get("name", "")
    compose.run("down")
    existing = _existing_volumes(docker)
    for volume in declared_volumes(config):
        archive = folder / volume.archive
        if not archive.is_file():
            print(f"  - {volume.key:20} not in this backup: left as it is", file=out)
            continue
        if volume.name not in existing:
            # Labelled as Compose labels its own volumes, so `up` adopts it without a warning.
            _docker(docker, "volume", "create",
                    "--label", f"com.docker.compose.project={project}",
                    "--label", f"com.docker.compose.volume={volume.key}", volume.name,
                    capture_output=True)  # fmt: skip
        with archive.open("rb") as source:
            done = subprocess.run(
                _archiver(docker, image, volume,
                          "rm -rf /data/* /data/.[!.]* /data/..?* && tar xzf - -C /data"),
                stdin=source, stderr=subprocess.PIPE, check=False)  # fmt: skip
        if done.returncode != 0:
            raise BackupError(f"restoring {volume.name} failed: {done.stderr.decode().strip()}")
        print(f"  ✓ {volume.key:20} restored from {archive.name}", file=out)
    print("Restored. Start the stack with `make up`.", file=out)
