"""`make tools` on simulated machines: the real bootstrap, each machine in its own temp root.

A machine here is a PATH (a folder holding only the commands that machine has, some of them fakes
standing in for a refusing `unshare` or a `docker` CLI), an /etc/apt folder, and a tools mirror on
127.0.0.1 serving release files built from the binaries this machine has (tests/support/
tools_mirror.py). The bootstrap runs for real: it downloads, checks the sha256, unpacks and runs
what it installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import bootstrap_tools as bootstrap
import pytest
from tool_release import names, this_platform

from tests.support.net import free_port
from tests.support.tools_mirror import build_mirror, real_binary, serve

REPO = Path(__file__).resolve().parents[3]
TOOLS_BIN = REPO / ".tools" / "bin"
CONFIG = REPO / "scripts" / "tools.toml"
PINS = tomllib.loads(CONFIG.read_text())
PLAT = this_platform()
# The tools with an upstream release (the others come only from this machine or Debian).
RELEASED = [name for name, spec in PINS["tools"].items() if "release" in spec]
REFUSED = "unshare: unshare failed: Operation not permitted"


@dataclass(frozen=True)
class Mirror:
    url: str
    config: Path  # tools.toml pinning the mirror's files


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, tool) -> Mirror:
    """Release files for this platform, built from .tools/bin, served on 127.0.0.1."""
    for name in RELEASED:
        tool(name)  # skips, with the reason, when `make tools` has not run
    folder = tmp_path_factory.mktemp("mirror")
    files = folder / "files"
    files.mkdir()
    config = folder / "tools.toml"
    config.write_text(build_mirror(CONFIG, TOOLS_BIN, files))
    with serve(files) as url:
        yield Mirror(url, config)


def file_of(tool: str) -> str:
    """The release file name the bootstrap asks for, for `tool` on this platform."""
    release = PINS["tools"][tool]["release"]
    return names(PINS["releases"][release], tool, PLAT)[0]


class Machine:
    """A simulated machine: its own PATH folder, apt configuration and .tools root."""

    def __init__(self, base: Path) -> None:
        self.bin = base / "path"
        self.apt = base / "etc-apt"
        self.root = base / "tools"
        self.bin.mkdir()
        (self.apt / "sources.list.d").mkdir(parents=True)
        self.has("sh")

    def has(self, *commands: str) -> None:
        """Give the machine these real commands of this one."""
        for command in commands:
            found = shutil.which(command)
            if found is None:
                pytest.skip(f"simulating this machine needs {command}, which this one lacks")
            (self.bin / command).symlink_to(found)

    def fake(self, command: str, script: str) -> None:
        path = self.bin / command
        path.write_text("#!/bin/sh\n" + script)
        path.chmod(0o755)

    def run(self, config: Path, mirror_url: str, *tools: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": str(self.bin), "BOTWATCH_TOOLS_URL": mirror_url, "LANG": "C.UTF-8"}
        return subprocess.run(
            [sys.executable, str(REPO / "scripts" / "bootstrap_tools.py"), "--root",
             str(self.root), "--config", str(config), "--apt-dir", str(self.apt), *tools],
            capture_output=True, text=True, env=env, timeout=600, check=False,
        )  # fmt: skip

    def installed_version(self, tool: str) -> str | None:
        return bootstrap.binary_version(self.root / "bin" / tool)


def lines_for(output: str, tool: str) -> list[str]:
    """The tool's lines, with runs of blanks (the column padding) made single."""
    return [" ".join(line.split()) for line in output.splitlines() if line.split()[:1] == [tool]]


def debian_package(name: str) -> str:
    """How the bootstrap names the Debian package this checkout's .tools holds."""
    version = (REPO / ".tools" / "pkgs" / name / ".debian-version").read_text()
    return f"Debian sid package {name} {version}"


def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def machine(tmp_path) -> Machine:
    return Machine(tmp_path)


class TestUpstreamThroughTheMirror:
    def test_ubuntu_style_apt_gets_every_tool_from_the_mirror(self, machine, mirror):
        """With apt but only Ubuntu's archive (no Debian URI), every tool comes from the mirror,
        checked, and runs."""
        machine.has("apt-get", "apt-cache", "dpkg-deb")
        (machine.apt / "sources.list.d" / "ubuntu.sources").write_text(
            "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates\n"
            "Components: main universe\n\n"
            "Types: deb\nURIs: http://security.ubuntu.com/ubuntu/\nSuites: noble-security\n"
        )
        run = machine.run(mirror.config, mirror.url, *RELEASED)
        assert run.returncode == 0, run.stderr
        for tool in RELEASED:
            (line,) = lines_for(run.stdout, tool)
            version = machine.installed_version(tool)
            file = file_of(tool)
            assert line == (
                f"{tool} {version} from upstream {file} ({mirror.url}/{file}, sha256 checked)"
            )
            assert bootstrap.accepted(version, tuple(PINS["tools"][tool]["versions"]))
        # The Ubuntu archive was never asked for Debian's packages.
        assert not (machine.root / "apt").exists()

    def test_without_apt_the_release_is_used(self, machine, mirror):
        """A machine with no apt at all (as macOS) installs from the release files: a .tar.gz
        member and a bare binary."""
        run = machine.run(mirror.config, mirror.url, "promtool", "docker-compose")
        assert run.returncode == 0, run.stderr
        assert [line.split(" from ")[1].split()[:2] for line in run.stdout.splitlines()] == [
            ["upstream", file_of("promtool")],
            ["upstream", file_of("docker-compose")],
        ]
        assert machine.installed_version("docker-compose") == bootstrap.binary_version(
            TOOLS_BIN / "docker-compose"
        )

    def test_a_second_run_uses_what_it_installed(self, machine, mirror):
        """Run again, the bootstrap keeps the checked tool without downloading anything."""
        assert machine.run(mirror.config, mirror.url, "promtool").returncode == 0
        again = machine.run(mirror.config, closed_url(), "promtool")
        assert again.returncode == 0, again.stderr
        assert lines_for(again.stdout, "promtool")[0].endswith("from cached")


class TestFailures:
    def test_checksum_mismatch_fails_closed_naming_the_tool(self, machine, mirror):
        """A file whose sha256 differs from the pin is refused: one line naming the tool, the file
        and both digests, and nothing installed or kept."""
        # The repository's own pins are the real upstream digests; the mirror's file differs.
        run = machine.run(CONFIG, mirror.url, "promtool")
        assert run.returncode == 1
        file = file_of("promtool")
        pinned = PINS["releases"]["prometheus"]["sha256"][PLAT]
        (line,) = lines_for(run.stderr, "promtool")
        assert re.fullmatch(
            rf"promtool +FAILED: checksum mismatch for {re.escape(file)} from "
            rf"{re.escape(mirror.url)}/{re.escape(file)} \(BOTWATCH_TOOLS_URL\): sha256 is "
            rf"[0-9a-f]{{64}}, scripts/tools.toml pins {pinned}; nothing was installed from it",
            line,
        ), line
        assert not (machine.root / "bin" / "promtool").exists()
        assert not list((machine.root).glob("releases/*"))

    def test_unreachable_mirror_gives_one_line_per_tool(self, machine, mirror):
        """With no source reachable, each tool gets one line saying what was tried, then one line
        saying what to do."""
        url = closed_url()
        run = machine.run(mirror.config, url, *RELEASED)
        assert run.returncode == 1
        failed = [line for line in run.stderr.splitlines() if "FAILED" in line]
        assert [line.split()[0] for line in failed] == RELEASED
        for line in failed:
            tool = line.split()[0]
            assert f"cannot download {url}/{file_of(tool)} (BOTWATCH_TOOLS_URL): " in line
            assert "no Debian packages: apt-get, apt-cache, dpkg-deb not found (no apt)" in line
        assert run.stderr.splitlines()[-1] == (
            f"make tools: could not provide {', '.join(RELEASED)}. Install them on PATH (a "
            "version in the range of scripts/tools.toml), or check that "
            f"BOTWATCH_TOOLS_URL={url} serves the files named in scripts/tools.toml, then run "
            "`make tools` again."
        )

    def test_a_tool_without_a_release_says_where_it_can_come_from(self, machine):
        """A tool with no upstream release pinned, on a machine without it or apt, is one line
        naming the sources it has."""
        (name,) = [n for n, spec in PINS["tools"].items() if "release" not in spec][:1]
        run = machine.run(CONFIG, closed_url(), name)
        assert run.returncode == 1
        low, high = PINS["tools"][name]["versions"]
        wanted = f"{low}.x" if low == high else f"{low}.x to {high}.x"
        assert lines_for(run.stderr, name) == [
            f"{name} FAILED: no {name} {wanted} on this machine; no Debian packages: apt-get, "
            f"apt-cache, dpkg-deb not found (no apt); no upstream release is configured for {name}"
        ]


class TestToolsAlreadyThere:
    def test_a_binary_on_path_is_used(self, machine, mirror):
        """A promtool of an accepted version on PATH is linked, nothing downloaded."""
        (machine.bin / "promtool").symlink_to(real_binary(TOOLS_BIN / "promtool"))
        run = machine.run(mirror.config, closed_url(), "promtool")
        assert run.returncode == 0, run.stderr
        assert lines_for(run.stdout, "promtool")[0].endswith(f"from PATH ({machine.bin}/promtool)")

    def test_compose_plugin_found_through_the_docker_cli(self, machine, mirror):
        """Docker's Compose plugin (`docker compose`, not docker-compose on PATH) is used through
        the docker CLI, and renders the project's compose file."""
        compose = real_binary(TOOLS_BIN / "docker-compose")
        machine.fake(
            "docker",
            f'if [ "$1" = compose ]; then shift; exec "{compose}" "$@"; fi\n'
            "echo \"docker: '$1' is not a docker command.\" >&2; exit 1\n",
        )
        run = machine.run(mirror.config, closed_url(), "docker-compose")
        assert run.returncode == 0, run.stderr
        (line,) = lines_for(run.stdout, "docker-compose")
        assert line.endswith(f"from Docker's Compose plugin ({machine.bin}/docker compose)")
        services = subprocess.run(
            [str(machine.root / "bin" / "docker-compose"), "-f", str(REPO / "compose.yaml"),
             "--env-file", str(REPO / ".env.example"), "config", "--services"],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PATH": str(machine.bin)},
        )  # fmt: skip
        assert services.returncode == 0, services.stderr
        assert "prometheus" in services.stdout.split()

    def test_compose_plugin_of_another_major_is_not_used(self, machine):
        """A Compose plugin outside the accepted range is named in the tool's failure line."""
        machine.fake("docker", 'echo "Docker Compose version v5.0.0"\n')
        run = machine.run(CONFIG, closed_url(), "docker-compose")
        assert run.returncode == 1
        (line,) = lines_for(run.stderr, "docker-compose")
        assert (
            "no docker-compose 2.26.x to 2.40.x on this machine (`docker compose` is 5.0.0)" in line
        )


class TestAlertmanagerWithoutUserNamespaces:
    @pytest.fixture
    def debian_machine(self, machine) -> Machine:
        """A Debian machine whose alertmanager package is already unpacked in its .tools."""
        unpacked = REPO / ".tools" / "pkgs" / "prometheus-alertmanager"
        if not (unpacked / ".debian-version").is_file():
            pytest.skip("this machine did not get Debian's alertmanager package from `make tools`")
        (machine.root / "pkgs").mkdir(parents=True)
        (machine.root / "pkgs" / "prometheus-alertmanager").symlink_to(unpacked)
        (machine.apt / "sources.list").write_text("deb http://mirror.example/debian sid main\n")
        machine.has("apt-get", "apt-cache", "dpkg-deb", "mount")
        return machine

    def test_unshare_refused_takes_the_release_and_says_why(self, debian_machine, mirror):
        """Where `unshare` is refused, Debian's build (which needs it for its templates) is passed
        over for the release file, and the bootstrap says so."""
        debian_machine.fake("unshare", f'echo "{REFUSED}" >&2; exit 1\n')
        run = debian_machine.run(mirror.config, mirror.url, "alertmanager", "amtool")
        assert run.returncode == 0, run.stderr
        flags = "-m" if os.geteuid() == 0 else "-rm"
        package = debian_package("prometheus-alertmanager")
        lines = [" ".join(line.split()) for line in run.stdout.splitlines()]
        for tool in ("alertmanager", "amtool"):
            file = file_of(tool)
            version = debian_machine.installed_version(tool)
            assert bootstrap.accepted(version, ("0.33", "0.33"))
            start = lines.index(lines_for(run.stdout, tool)[0])
            assert lines[start : start + 2] == [
                f"{tool} {version} from upstream {file} ({mirror.url}/{file}, sha256 checked)",
                f"(not used: {package} reads its templates from "
                "/usr/share/prometheus/alertmanager, shown to it in a private mount namespace, "
                f"but `unshare {flags}` was refused ({REFUSED}))",
            ]

    def test_no_unshare_and_no_release_is_one_clear_line(self, debian_machine):
        """Without `unshare` and without a reachable release, the failure says both."""
        url = closed_url()
        run = debian_machine.run(CONFIG, url, "alertmanager")
        assert run.returncode == 1
        (line,) = lines_for(run.stderr, "alertmanager")
        assert f"{debian_package('prometheus-alertmanager')} reads its templates from " in line
        assert "but unshare is not installed; cannot download " in line
        assert f"{url}/{file_of('alertmanager')} (BOTWATCH_TOOLS_URL)" in line
