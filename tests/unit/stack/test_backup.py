"""`make backup` / `make restore` (stackctl.backup) against the real docker-compose's view.

No Docker engine runs here: `docker` is a recording stand-in that hands `docker compose config` to
the real docker-compose binary (so the volumes come from compose itself) and plays the engine's
part for the rest (volume list, the archiving container). `make test-stack` restores for real
(tests/stack/test_backup.py).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from stackctl.backup import MANIFEST, backup, restore
from stackctl.docker import Compose

FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "{log}"
if [ "$1" = compose ]; then
  shift
  case "$*" in
    *" config "*) exec "{compose}" "$@" ;;
    *" ps "*) printf 'prometheus\\nloki\\n' ;;
  esac
  exit 0
fi
case "$1 $2" in
  "volume ls") cat "{volumes}" ;;
  "run "*)
    for arg in "$@"; do case "$arg" in *:/data) volume="${{arg%:/data}}" ;; esac; done
    case "$*" in
      *"tar czf"*) printf 'archive of %s' "$volume" ;;
      *) cat > "{log}.restored.$volume" ;;
    esac ;;
esac
"""
# A service another part of the stack may add (long-term storage), with its own volume.
EXTRA_SERVICE = {
    "services": {"victoria": {"image": "victoriametrics/victoria-metrics:v1",
                              "profiles": ["longterm"], "volumes": ["victoria-data:/storage"]}},
    "volumes": {"victoria-data": {}},
}  # fmt: skip


class Stack:
    """A project folder with compose.yaml, its .env, and a recording docker."""

    def __init__(self, repo: Path, root: Path, compose_bin: str) -> None:
        self.root = root
        shutil.copy(repo / "compose.yaml", root / "compose.yaml")
        (root / ".env").write_text("GRAFANA_ADMIN_PASSWORD=correct-horse-battery\n")
        self.log, self.volumes = root / "docker.log", root / "volumes.txt"
        self.docker = root / "docker"
        self.docker.write_text(
            FAKE_DOCKER.format(log=self.log, compose=compose_bin, volumes=self.volumes)
        )
        self.docker.chmod(0o755)
        self.compose = Compose(root, (str(self.docker), "compose"))

    def declared(self) -> dict[str, str]:
        """compose.yaml's top-level volumes, read as YAML: key → Docker's name."""
        spec = yaml.safe_load((self.root / "compose.yaml").read_text())
        return {key: f"{spec['name']}_{key}" for key in spec["volumes"]}

    def add_extra_service(self) -> None:
        spec = yaml.safe_load((self.root / "compose.yaml").read_text())
        spec["services"].update(EXTRA_SERVICE["services"])
        spec["volumes"].update(EXTRA_SERVICE["volumes"])
        (self.root / "compose.yaml").write_text(yaml.safe_dump(spec))

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def stack(repo, tool, tmp_path, monkeypatch) -> Stack:
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)
    return Stack(repo, tmp_path, tool("docker-compose"))


def archived(folder: Path) -> dict[str, str]:
    return json.loads((folder / MANIFEST).read_text())["volumes"]


class TestBackup:
    def test_every_declared_volume_is_archived(self, stack, tmp_path):
        """With every volume created, there is one archive per volume compose.yaml declares."""
        stack.volumes.write_text("\n".join(stack.declared().values()) + "\n")
        folder = backup(
            stack.compose, tmp_path / "backups", io.StringIO(), docker=str(stack.docker)
        )
        assert archived(folder) == stack.declared()
        assert sorted(p.name for p in folder.glob("*.tar.gz")) == sorted(
            f"{key}.tar.gz" for key in stack.declared()
        )
        assert (folder / "loki-data.tar.gz").read_text() == "archive of botwatch_loki-data"

    def test_a_volume_compose_gains_is_archived_without_touching_the_backup(self, stack, tmp_path):
        """A service added to compose.yaml, even under a profile, has its volume backed up."""
        stack.add_extra_service()
        stack.volumes.write_text("\n".join(stack.declared().values()) + "\n")
        folder = backup(
            stack.compose, tmp_path / "backups", io.StringIO(), docker=str(stack.docker)
        )
        assert archived(folder)["victoria-data"] == "botwatch_victoria-data"
        assert archived(folder) == stack.declared()

    def test_services_are_stopped_while_their_data_is_read(self, stack, tmp_path):
        """The running services stop before the first archive and start after the last."""
        stack.volumes.write_text("\n".join(stack.declared().values()) + "\n")
        backup(stack.compose, tmp_path / "backups", io.StringIO(), docker=str(stack.docker))
        steps = [c.split()[-1] if " compose " in f" {c} " else c.split()[0] for c in stack.calls()]
        steps = [s for s in steps if s in ("stop", "run", "loki")]  # `start prometheus loki`
        assert steps[0] == "stop" and steps[-1] == "loki"
        assert steps[1:-1] == ["run"] * len(stack.declared())

    def test_a_volume_never_created_is_skipped_and_said(self, stack, tmp_path):
        """A volume whose service never ran (an unused profile) is reported, not an error."""
        declared = stack.declared()
        stack.volumes.write_text(
            "\n".join(v for k, v in declared.items() if k != "alloy-data") + "\n"
        )
        out = io.StringIO()
        folder = backup(stack.compose, tmp_path / "backups", out, docker=str(stack.docker))
        assert "alloy-data" not in archived(folder)
        assert json.loads((folder / MANIFEST).read_text())["not_created"] == ["alloy-data"]
        assert "alloy-data           not created yet" in out.getvalue()


class TestRestore:
    def test_each_archive_is_written_back_into_its_volume(self, stack, tmp_path):
        """Restore takes the stack down, then feeds each archive to its own volume."""
        names = stack.declared()
        stack.volumes.write_text("\n".join(names.values()) + "\n")
        folder = backup(
            stack.compose, tmp_path / "backups", io.StringIO(), docker=str(stack.docker)
        )
        stack.volumes.write_text("")  # a fresh machine: no volume yet
        stack.log.write_text("")
        restore(stack.compose, folder, io.StringIO(), docker=str(stack.docker))
        calls = stack.calls()
        assert calls.index(next(c for c in calls if c.endswith(" down"))) < calls.index(
            next(c for c in calls if c.startswith("run "))
        )
        for key, name in names.items():
            assert f"com.docker.compose.volume={key} {name}" in " ".join(calls)
            restored = Path(f"{stack.log}.restored.{name}").read_text()
            assert restored == f"archive of {name}"

    def test_a_folder_without_manifest_is_refused(self, stack, tmp_path):
        """Restoring from a folder `make backup` did not write changes nothing."""
        from stackctl.backup import BackupError

        with pytest.raises(BackupError, match="not a backup"):
            restore(stack.compose, tmp_path, io.StringIO(), docker=str(stack.docker))
        assert not stack.log.exists()
