"""`make tools`: the real test binaries are installed, run, and have the pinned versions."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import bootstrap_tools as bootstrap
import pytest
from tool_debian import debian_mirrors
from tool_release import ReleaseFile, SourceUnusable

from tests.support.net import wait_http

CONFIG = tomllib.loads((Path(bootstrap.__file__).parent / "tools.toml").read_text())
TOOLS = {t.name: t for t in bootstrap.load_tools(CONFIG)}


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_tool_runs_with_an_accepted_version(name, tool):
    """Each tool in scripts/tools.toml runs and has a major.minor the project accepts."""
    path = Path(tool(name))
    subprocess.run([path, "--help"], capture_output=True, timeout=30, check=True)
    version = bootstrap.installed_version(TOOLS[name], path)
    assert bootstrap.accepted(version, TOOLS[name].versions), version


def test_alertmanager_loads_a_config(tool, free_port, tmp_path):
    """The installed alertmanager starts with a config and answers ready (its templates load)."""
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    port = free_port()
    process = subprocess.Popen(
        [tool("alertmanager"), f"--config.file={config}", f"--storage.path={tmp_path}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 20, process=process)
    except RuntimeError as exited:
        pytest.fail(f"{exited}\n{process.stderr.read().decode()}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_bootstrap_is_idempotent(repo):
    """A second `make tools` keeps what is installed and says so."""
    run = subprocess.run(
        [sys.executable, str(repo / "scripts" / "bootstrap_tools.py")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = run.stdout.splitlines()
    assert len(lines) == len(CONFIG["tools"])
    assert all(line.rstrip().endswith("from cached") for line in lines), run.stdout


class TestSources:
    def test_mirrors_come_from_the_machines_apt_sources(self, tmp_path):
        """Debian mirrors are read from both apt formats; security and other repos are skipped."""
        (tmp_path / "sources.list.d").mkdir()
        (tmp_path / "sources.list.d" / "debian.sources").write_text(
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n"
            "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        )
        (tmp_path / "sources.list").write_text(
            "deb [arch=amd64] http://other.example/debian bookworm main\n"
            "deb https://packages.example.com/apt stable main\n# deb http://x/debian sid main\n"
        )
        assert debian_mirrors(tmp_path) == [
            "http://mirror.example/debian",
            "http://other.example/debian",
        ]

    def test_a_build_without_version_is_read_from_its_package(self, tmp_path):
        """A tool that prints no version is judged by its package's recorded version, epoch cut."""
        spec = {"versions": ["1.145", "1.145"], "version_from_package": True}
        tool = bootstrap.load_tools({"tools": {"t": spec}})[0]
        target = tmp_path / "t"
        assert bootstrap.installed_version(tool, target) is None
        bootstrap.version_stamp(target).write_text("1:1.145.0+ds1-2")
        assert bootstrap.installed_version(tool, target) == "1.145.0"

    def test_version_range_matching(self):
        """A version is accepted from the oldest to the newest major.minor, both included."""
        assert bootstrap.accepted("3.5.3", ("3.5", "3.13"))
        assert bootstrap.accepted("3.13.9", ("3.5", "3.13"))
        assert bootstrap.accepted("3.9.0", ("3.5", "3.13"))
        assert not bootstrap.accepted("3.4.2", ("3.5", "3.13"))
        assert not bootstrap.accepted("3.51.0", ("3.5", "3.13"))
        assert not bootstrap.accepted("5.0.0", ("2.26", "2.40"))
        assert not bootstrap.accepted(None, ("3.5", "3.5"))

    @pytest.mark.parametrize(
        "output", ["prometheus, version 2.11.4 (branch: HEAD)", "v2.11.4 h1:abc", "2.11.4\n"]
    )
    def test_version_forms(self, output):
        """Versions are read whether prefixed with "version ", with "v", or bare on their line."""
        assert bootstrap.VERSION_RE.search(output).groups() == ("2", "11", "4")

    def test_repository_names_no_mirror_host(self, repo):
        """No Debian mirror host is written into the bootstrap or its pins."""
        for name in ("bootstrap_tools.py", "tool_debian.py", "tool_release.py", "tools.toml"):
            assert "deb.debian.org" not in (repo / "scripts" / name).read_text()

    @pytest.mark.parametrize("release", sorted(CONFIG["releases"]))
    def test_release_pins_cover_the_supported_platforms(self, release):
        """Each release pins a sha256 for linux/darwin × amd64/arm64, or names the gap: a platform
        without a pin is refused with a line saying so, never downloaded unchecked."""
        spec = CONFIG["releases"][release]
        for plat in ("linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64"):
            pin = spec["sha256"].get(plat)
            if pin is not None:
                assert re.fullmatch(r"[0-9a-f]{64}", pin), (plat, pin)
                assert ReleaseFile.pick(release, spec, "x", plat).sha256 == pin
                continue
            with pytest.raises(SourceUnusable) as refused:
                ReleaseFile.pick(release, spec, "x", plat)
            assert str(refused.value) == (
                f"no sha256 is pinned for the {release} {spec['version']} release on {plat} in "
                "scripts/tools.toml"
            )
