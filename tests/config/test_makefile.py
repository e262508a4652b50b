"""The Makefile: `make` alone is the help, and every target is listed with one line."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys


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
