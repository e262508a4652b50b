"""The Makefile: `make` alone is the help, every target is listed with one line, and `make venv`
says what to do on a machine that cannot build .venv (each first line asserted exactly)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from python_preflight import problem


def phony_targets(makefile: str) -> set[str]:
    return {t for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for t in line.split()}


def test_help_is_the_default_and_lists_every_target(repo):
    """Running plain `make` prints one described line per target, and only that."""
    run = subprocess.run(["make", "--no-print-directory"], cwd=repo, capture_output=True,
                         text=True, check=True)  # fmt: skip
    listed = {}
    for line in run.stdout.splitlines():
        match = re.match(r"^  make (\S+)\s+(\S.*)$", line)
        assert match, f"unexpected help line: {line!r}"
        listed[match.group(1)] = match.group(2)
    assert set(listed) == phony_targets((repo / "Makefile").read_text())


def test_ci_runs_exactly_the_readme_test_command(repo):
    """.ci/run runs `make test`, the command the README gives."""
    ci = (repo / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", "set "))]
    assert commands[-1].split()[-2:] == ["make", "test"]
    assert "make test " in (repo / "README.md").read_text()


def pytest_args(repo, target: str) -> list[str]:
    """The arguments `make <target>` passes to pytest, read from make's dry run."""
    run = subprocess.run(["make", "-n", "--no-print-directory", target, "PYTEST_ARGS="], cwd=repo,
                         capture_output=True, text=True, check=True)  # fmt: skip
    [line] = [line for line in run.stdout.splitlines() if " -m pytest " in line]
    return shlex.split(line.split(" -m pytest ", 1)[1])


def collected(repo, args: list[str], *paths: str) -> list[str]:
    """Node ids pytest selects with these arguments (collection only: nothing runs)."""
    # --verbosity last: it overrides the target's own -v, so pytest prints one node id a line.
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only",
                          "-p", "no:cacheprovider", *args, "--verbosity=-1", *paths],
                         cwd=repo, capture_output=True, text=True, check=False)  # fmt: skip
    assert run.returncode in (0, 5), run.stdout + run.stderr  # 5: every test deselected
    return [line for line in run.stdout.splitlines() if "::" in line]


class TestStackSuiteSelection:
    def test_make_test_never_selects_the_stack_suite(self, repo):
        """`make test` deselects tests/stack even where Docker runs, and still runs the rest."""
        args = pytest_args(repo, "test")
        selected = collected(repo, args, "tests/stack", "tests/config/test_makefile.py")
        assert [node for node in selected if node.startswith("tests/stack")] == []
        assert any(node.startswith("tests/config/test_makefile.py") for node in selected)

    def test_make_test_stack_selects_exactly_the_stack_suite(self, repo):
        """`make test-stack` runs the tests/stack suite and nothing else."""
        selected = collected(repo, pytest_args(repo, "test-stack"))
        assert selected
        assert [node for node in selected if not node.startswith("tests/stack/")] == []


@pytest.fixture
def scratch(repo, tmp_path) -> Path:
    """A project holding only what `make venv` reads, with a requirements file pip satisfies
    offline (the Makefile's logic is under test, not the dependencies)."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    (root / "exporter").mkdir()
    shutil.copy(repo / "Makefile", root / "Makefile")
    shutil.copy(repo / "scripts" / "python_preflight.py", root / "scripts")
    (root / "exporter" / "pyproject.toml").touch()
    (root / "requirements-dev.txt").write_text("pip\n")
    return root


def make_venv(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "venv", f"PYTHON={env.pop('PYTHON', sys.executable)}"],
        cwd=root, capture_output=True, text=True, env={**os.environ, **env}, timeout=300,
    )  # fmt: skip


class TestVenv:
    def test_python_older_than_311_says_how_to_get_a_newer_one(self):
        """Python 3.10 (Ubuntu 22.04's) is refused with the ways to get 3.11+."""
        assert problem((3, 10, 12, "final", 0), lambda name: True) == (
            "Python 3.11+ is needed, this is 3.10.12. Name a newer one: `PYTHON=python3.12 make "
            "test` (Ubuntu 22.04: `sudo add-apt-repository ppa:deadsnakes/ppa && sudo apt install "
            "python3.12-venv`; or `uv python install 3.12`, then `PYTHON=$(uv python find 3.12) "
            "make test`; macOS: `brew install python@3.12`)."
        )
        assert problem((3, 11, 2, "final", 0), lambda name: True) is None

    def test_missing_venv_module_names_the_package(self, scratch, tmp_path):
        """A Python without ensurepip (Debian/Ubuntu without pythonX.Y-venv) is told the package,
        on the first line, before anything is created."""
        shadow = tmp_path / "no-ensurepip" / "ensurepip"
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text('raise ModuleNotFoundError("no ensurepip")\n')
        run = make_venv(scratch, PYTHONPATH=str(shadow.parent))
        short = f"{sys.version_info.major}.{sys.version_info.minor}"
        found = f"{short}.{sys.version_info.micro}"
        assert run.returncode != 0
        assert run.stderr.splitlines()[0] == (
            f"make: Python {found} cannot create a virtual environment (no ensurepip module): "
            f"install python{short}-venv (`sudo apt install python{short}-venv`), then run make "
            "again."
        )
        assert not (scratch / ".venv").exists()

    def test_missing_python_is_named(self, scratch):
        """A PYTHON that does not exist is named, with how to pick another."""
        run = make_venv(scratch, PYTHON="python3.99")
        assert run.returncode != 0
        assert run.stderr.splitlines()[0] == (
            "make: python3.99 not found: install Python 3.11+, or name one, e.g. "
            "`PYTHON=python3.12 make test`"
        )

    def test_a_half_made_venv_is_made_again(self, scratch):
        """A .venv left without pip (what a failed `python -m venv` leaves) is rebuilt by the next
        `make venv`, not reused until deleted by hand."""
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(scratch / ".venv")],
                       check=True)  # fmt: skip
        python = scratch / ".venv" / "bin" / "python"
        assert subprocess.run([python, "-c", "import pip"], capture_output=True).returncode != 0
        run = make_venv(scratch)
        assert run.returncode == 0, run.stderr
        assert (
            subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0
        )
        assert (scratch / ".venv" / ".installed").exists()
