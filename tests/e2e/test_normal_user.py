"""`make tools` and an end-to-end test as a normal user, on a machine without Node.js.

CI runs as root; a bot developer does not. This test copies the repository into a scratch folder
owned by `nobody`, and as `nobody` (setpriv) runs `make tools` (Debian's alertmanager then needs
`unshare -rm`, an unprivileged user namespace) and one end-to-end test on the tools it installed,
with a PATH that has every command of this machine except node, npm and npx.

What is prepared as root, to keep this test to a minute or two: the scratch .venv is made by the
system's Python of the same version with this checkout's installed packages linked in (building a
.venv is tested in tests/config/test_makefile.py; a normal user cannot use root's pyenv Python),
and, to spare the Debian mirror, a copy of this checkout's apt lists and downloaded .deb files
(.tools/apt/): `apt-get update`, `apt-cache`, `dpkg-deb -x` and the rest of the bootstrap still
run, as `nobody`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

NOBODY = 65534
NODE_COMMANDS = {"node", "npm", "npx", "corepack", "nodejs"}


def _copy_checkout(repo: Path, dest: Path) -> None:
    """The checkout's files (tracked, or new and not ignored) as they are in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = repo / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    apt = repo / ".tools" / "apt"
    for part in ("lists", "debs"):
        if (apt / part).is_dir():
            shutil.copytree(apt / part, dest / ".tools" / "apt" / part)


def _venv_of(repo: Path, project: Path) -> None:
    """A .venv for `project` run by the system's Python, holding the packages of repo's .venv."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin")
    if system is None:
        pytest.skip(f"no system {name} for a normal user (this checkout's Python is not one)")
    venv = project / ".venv"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / name / "site-packages"
    shutil.rmtree(site)
    site.symlink_to(repo / ".venv" / "lib" / name / "site-packages")
    shutil.copy2(repo / ".venv" / ".installed", venv / ".installed")


def _path_without_node(folder: Path) -> str:
    """A PATH folder linking every command of this machine's PATH except Node.js's."""
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        # Skip this checkout's own folders, and root's (pyenv): a normal user cannot enter them.
        private = directory.startswith("/root") or ".venv" in directory or ".tools" in directory
        if private or not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = folder / entry.name
            if entry.name not in NODE_COMMANDS and not link.exists() and os.access(entry, os.X_OK):
                link.symlink_to(entry.path)
    return str(folder)


@pytest.fixture(scope="module")
def scratch(repo) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("switching to a normal user needs root and setpriv (util-linux)")
    # Not under pytest's tmp_path: that folder is private to root.
    folder = Path(tempfile.mkdtemp(prefix="botwatch-normal-user-"))
    try:
        project = folder / "project"
        _copy_checkout(repo, project)
        _venv_of(repo, project)
        (folder / "home").mkdir()
        _path_without_node(folder / "bin")
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(folder)], check=True)
        yield project
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_nobody(project: Path, *command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a command as `nobody` in its own home, with this environment otherwise (CA settings)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))},
        "PATH": str(project.parent / "bin"),
        "HOME": str(project.parent / "home"),
    }
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command],
        cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_make_tools_then_an_end_to_end_test_as_a_normal_user(scratch, repo):
    """As `nobody`, with no Node.js on PATH, `make tools` installs every tool and the LogQL parser,
    and the end-to-end test of Alertmanager's inhibitions passes on them."""
    assert shutil.which("node", path=str(scratch.parent / "bin")) is None
    tools = as_nobody(scratch, "make", "--no-print-directory", "tools", timeout=1200)
    assert tools.returncode == 0, tools.stdout + tools.stderr
    lines = tools.stdout.splitlines()
    start = lines.index("Test tools (scripts/tools.toml):")
    expected = tomllib.loads((repo / "scripts" / "tools.toml").read_text())["tools"]
    installed = [line.split()[0] for line in lines[start + 1 : start + 1 + len(expected)]]
    assert installed == list(expected)
    assert (scratch / "scripts" / "logql" / "node_modules" / "@grafana" / "lezer-logql").is_dir()
    launcher = scratch / ".tools" / "bin" / "alertmanager"
    if not launcher.is_symlink():  # Debian's build: its templates through `unshare -rm`
        assert "exec unshare -rm " in launcher.read_text()
    e2e = as_nobody(
        scratch, str(scratch / ".venv" / "bin" / "python"), "-m", "pytest", "-q",
        "-p", "no:cacheprovider",
        "tests/e2e/test_alertmanager_live.py::test_bot_down_suppresses_its_own_symptoms_only",
        timeout=600,
    )  # fmt: skip
    assert e2e.returncode == 0, e2e.stdout + e2e.stderr
    assert "1 passed" in e2e.stdout
