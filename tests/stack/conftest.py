"""The real stack under Docker (`make test-stack`); skipped with the reason without an engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PORT_KEYS = {
    "grafana": "GRAFANA_PORT",
    "prometheus": "PROMETHEUS_PORT",
    "alertmanager": "ALERTMANAGER_PORT",
    "loki": "LOKI_PORT",
    "victoriametrics": "VICTORIAMETRICS_PORT",
}
# The stack under test runs the scaling profiles too (README "Scaling"), so the same run checks
# the long-term store and the second Alertmanager and Prometheus under Docker.
PROFILES = "longterm,ha"


@dataclass
class Stack:
    project: str
    root: Path
    urls: dict[str, str]
    grafana_password: str  # the admin password written into the stack's .env
    environment: dict[str, str]  # what `make` would run stackctl with for this project

    def stackctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m stackctl <args>` in the stack's folder, as `make up`, `make backup` run it."""
        return subprocess.run(
            [sys.executable, "-m", "stackctl", *args],
            cwd=self.root, env=self.environment, capture_output=True, text=True, check=False,
        )  # fmt: skip

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", "-p", self.project, *args],
            cwd=self.root, capture_output=True, text=True, check=False,
        )  # fmt: skip


def docker_engine_or_skip():
    """The docker SDK client, or skip the test with the reason the engine cannot be used."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # the SDK raises several types for "no engine"
        pytest.skip(f"no Docker engine reachable ({type(exc).__name__}): make test-stack needs one")
    return client


@pytest.fixture(scope="session")
def docker_client():
    return docker_engine_or_skip()


def copy_checkout(root: Path) -> Path:
    """This checkout's tracked and untracked (not ignored) files, copied to root."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


@contextmanager
def stack_from_checkout(
    root: Path, free_port, extra_env: str = "", profiles: str = PROFILES
) -> Iterator[Stack]:
    """The whole stack from a copy of this checkout in root, on free ports, under a throw-away
    project, with `profiles` and extra_env appended to .env.example's settings.

    Brought up with the same `make up` code path a user runs; torn down with its volumes.
    """
    copy_checkout(root)
    ports = {service: free_port() for service in PORT_KEYS}
    env = (REPO / ".env.example").read_text()
    for service, key in PORT_KEYS.items():
        env = env.replace(f"\n{key}=", f"\n{key}={ports[service]}\n# was: ")
    password = uuid.uuid4().hex
    env = env.replace("GRAFANA_ADMIN_PASSWORD=", f"GRAFANA_ADMIN_PASSWORD={password}")
    env = env.replace("\nCOMPOSE_PROFILES=", f"\nCOMPOSE_PROFILES={profiles}")
    # A gossip /29 of its own, so that two test stacks on one Docker host do not collide.
    gossip = f"10.253.{uuid.uuid4().int % 200 + 20}"
    env = env.replace("\nALERTMANAGER_GOSSIP_NET=", f"\nALERTMANAGER_GOSSIP_NET={gossip}\n# was: ")
    (root / ".env").write_text(env + extra_env)
    project = f"botwatch-test-{uuid.uuid4().hex[:8]}"
    environment = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": project,
        "PYTHONPATH": str(root / "scripts"),
    }
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    stack = Stack(project, root, urls, password, environment)
    try:
        up = stack.stackctl("up")
        assert up.returncode == 0, up.stdout + up.stderr
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans")


@pytest.fixture(scope="session")
def compose_stack(docker_client, tmp_path_factory, free_port) -> Iterator[Stack]:
    """The whole stack from a copy of this checkout, on free ports, under a throw-away project."""
    with stack_from_checkout(tmp_path_factory.mktemp("stack") / "botwatch", free_port) as stack:
        yield stack
