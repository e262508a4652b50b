"""Fixtures shared by every test folder: the repository root, the real test tools, free ports."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import net

REPO = Path(__file__).resolve().parent.parent
TOOLS_BIN = REPO / ".tools" / "bin"


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def tool() -> Callable[[str], str]:
    """Path of a real test tool installed by `make tools` (falls back to PATH).

    Skips the test with the reason when the tool is absent, which only happens when pytest is run
    without `make tools`; `make test` always installs them first.
    """

    def find(name: str) -> str:
        candidate = TOOLS_BIN / name
        if candidate.exists():
            return str(candidate)
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed: run `make tools` (make test does it for you)")
        return found

    return find


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function returning a TCP port on 127.0.0.1 that is free right now."""
    return net.free_port


# -- the drill session (tests/support/drill_session.py) ------------------------------------------
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read the drill session run last: the rest of the suite runs while it does."""
    items.sort(key=lambda item: item.get_closest_marker("drills") is not None)


@pytest.fixture(scope="session", autouse=True)
def drill_run(request, tool, tmp_path_factory):
    """Every alert's drill, started in the background with the first test when any test marked
    `drills` is selected (None otherwise)."""
    if not any(item.get_closest_marker("drills") for item in request.session.items):
        yield None
        return
    from tests.support.drill_session import DrillRun

    run = DrillRun(tool, tmp_path_factory.mktemp("drills")).start()
    yield run
    run.close()
