"""Before `make venv`: is this Python one that can build the project's .venv? One line if not.

Run by the Makefile with $(PYTHON), so it must run on old Pythons too (3.6+ syntax: no
`from __future__ import annotations`, no walrus, no match, no type hints) to tell their users what
to do.
"""

import importlib
import sys

MINIMUM = (3, 11)


def problem(version, has_module):
    """The one line saying why this Python cannot build .venv, or None when it can.

    `version` is sys.version_info-like; `has_module(name)` says whether a module is importable.
    """
    found = ".".join(str(part) for part in version[:3])
    short = ".".join(str(part) for part in version[:2])
    if tuple(version[:2]) < MINIMUM:
        return (
            f"Python 3.11+ is needed, this is {found}. Name a newer one: "
            "`PYTHON=python3.12 make test` (Ubuntu 22.04: `sudo add-apt-repository "
            "ppa:deadsnakes/ppa && sudo apt install python3.12-venv`; or `uv python install "
            "3.12`, then `PYTHON=$(uv python find 3.12) make test`; macOS: `brew install "
            "python@3.12`)."
        )
    if not has_module("ensurepip"):
        # Debian and Ubuntu ship venv's pip bootstrap in a separate package.
        return (
            f"Python {found} cannot create a virtual environment (no ensurepip module): install "
            f"python{short}-venv (`sudo apt install python{short}-venv`), then run make again."
        )
    return None


def _importable(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    line = problem(sys.version_info, _importable)
    if line:
        sys.stderr.write("make: " + line + "\n")
        sys.exit(1)
