"""`make config`: renders without a Docker engine, says exactly what is missing, writes nothing."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from stackctl import envfile
from stackctl.showconfig import show_config

from tests.support.tools_mirror import real_binary


@pytest.fixture
def project(repo, tmp_path) -> Path:
    """A project folder with compose.yaml and a first-run .env, as after `make up`'s first step."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("compose.yaml", ".env.example"):
        shutil.copy(repo / name, root / name)
    envfile.create_from_example(root / ".env.example", root / ".env")
    return root


def files_under(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*")}


def fake_docker(folder: Path, script: str) -> str:
    path = folder / "docker"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def run(root: Path, docker: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = show_config(root, docker=docker, out=out)
    return code, out.getvalue().splitlines()


class TestWithoutDocker:
    def test_renders_with_the_standalone_compose_and_writes_nothing(self, project, tool):
        """With `make tools`' docker-compose and no docker at all, both configs are printed and
        no file is created (no .secrets/, no .generated/)."""
        (project / ".tools" / "bin").mkdir(parents=True)
        (project / ".tools" / "bin" / "docker-compose").symlink_to(
            real_binary(Path(tool("docker-compose")))
        )
        before = files_under(project)
        code, lines = run(project, str(project / "no-docker"))
        assert code == 0, "\n".join(lines)
        assert lines[0] == "name: botwatch"
        assert "services:" in lines
        assert "# Alertmanager (as `make up` writes it), channels: none" in lines
        assert "route:" in lines
        assert files_under(project) == before

    def test_no_compose_at_all_says_what_to_run(self, project):
        """With neither docker nor `make tools`, the first line says how to get Compose v2, and
        the Alertmanager config is still shown."""
        before = files_under(project)
        code, lines = run(project, str(project / "no-docker"))
        assert code == 1
        assert lines[0] == (
            "compose.yaml not rendered: Compose v2 is needed to render compose.yaml and none was "
            "found: run `make tools` (it puts docker-compose in .tools/bin/, no Docker needed), "
            "or install Docker with its Compose v2 plugin."
        )
        assert "route:" in lines
        assert files_under(project) == before

    def test_docker_without_its_compose_plugin(self, project, tmp_path):
        """A docker CLI whose `compose` is unknown gives one line naming the plugin, not docker's
        own `unknown flag: --project-directory`."""
        docker = fake_docker(tmp_path, 'echo "docker: unknown command: docker $1" >&2; exit 1\n')
        code, lines = run(project, docker)
        assert code == 1
        assert lines[0] == (
            "compose.yaml not rendered: Docker's Compose v2 plugin is missing (`docker compose "
            "version` failed): run `make tools` (it puts docker-compose in .tools/bin/, no Docker "
            "needed), or install the docker-compose-plugin package."
        )

    def test_without_env_it_says_how_to_get_one_and_creates_nothing(self, project):
        """Before the first `make up` there is no .env: one line says how to get it, and
        `make config` does not create it."""
        (project / ".env").unlink()
        before = files_under(project)
        assert run(project, "docker") == (
            1,
            [
                "No .env yet: `make up` creates it on its first run (with a generated Grafana "
                "password), or copy .env.example to .env and set GRAFANA_ADMIN_PASSWORD; "
                "`make config` only reads it."
            ],
        )
        assert files_under(project) == before
