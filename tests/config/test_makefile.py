"""The Makefile: `make` alone is the help, and every target is listed with one line."""

from __future__ import annotations

import re
import subprocess


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
