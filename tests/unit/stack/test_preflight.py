"""The `make up` preflight: .env creation, validation messages, and bad input starting nothing."""

from __future__ import annotations

import io
import shutil
import socket
from pathlib import Path

import pytest
from stackctl import envfile
from stackctl.checks import check_ports_free, check_settings
from stackctl.up import up

from tests.support.fake_secrets import CHANNEL_SETTINGS, TELEGRAM_BOT_TOKEN

FAKE_DOCKER = """#!/bin/sh
echo "$@" >> "{log}"
case "$1 $2" in
  "info "*) echo 28.2.2 ;;
  "compose version") echo 2.40.3 ;;
esac
"""


@pytest.fixture
def example(repo) -> dict[str, str]:
    """The settings of .env.example with a generated password, as `make up` would create them."""
    values = envfile.load(repo / ".env.example").values
    return {**values, "GRAFANA_ADMIN_PASSWORD": envfile.new_password()}


def messages(env: dict[str, str]) -> list[str]:
    return [str(problem) for problem in check_settings(env)]


@pytest.fixture
def root(repo, tmp_path) -> Path:
    """A project folder holding only .env.example, like a fresh clone before `make up`."""
    shutil.copy(repo / ".env.example", tmp_path / ".env.example")
    return tmp_path


@pytest.fixture
def docker(tmp_path) -> tuple[str, Path]:
    """A docker CLI stand-in that answers the version probes and records every call."""
    log = tmp_path / "docker-calls.log"
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    script.write_text(FAKE_DOCKER.format(log=log))
    script.chmod(0o755)
    log.touch()
    return str(script), log


def never_in_use(address: str, port: int) -> bool:
    return False


class TestEnvFile:
    def test_parses_comments_quotes_and_inline_comments(self):
        """Comments, blank lines, quotes, `export` and inline comments are understood."""
        parsed = envfile.parse("# c\n\nA=1\nexport B=\"two words\"\nC=x # note\nD='#kept'\n")
        assert parsed.values == {"A": "1", "B": "two words", "C": "x", "D": "#kept"}
        assert parsed.malformed == []

    def test_malformed_lines_are_reported_with_their_number(self):
        """A line that is not KEY=value is reported with its line number and the reason."""
        parsed = envfile.parse("A=1\nthis is wrong\nbad-key=2\n")
        assert parsed.malformed == [
            (2, "this is wrong", "expected KEY=value"),
            (3, "bad-key=2", "'bad-key' is not a valid setting name"),
        ]

    def test_created_env_has_a_fresh_private_password(self, root):
        """The first .env gets a random 12+ character password and is readable by its owner only."""
        first = envfile.create_from_example(root / ".env.example", root / ".env")
        env = envfile.load(root / ".env").values
        assert env["GRAFANA_ADMIN_PASSWORD"] == first
        assert len(first) >= 12
        assert first != envfile.new_password()
        assert (root / ".env").stat().st_mode & 0o777 == 0o600


class TestSettings:
    def test_example_settings_are_valid(self, example):
        """.env.example with a generated password passes every check."""
        assert messages(example) == []

    def test_valid_channels_pass(self, example):
        """A real-shaped webhook URL, bot token and negative group chat id are accepted."""
        example |= CHANNEL_SETTINGS
        assert messages(example) == []

    def test_malformed_webhook_url(self, example):
        """A URL that is not a Discord webhook gets the exact fix."""
        example["DISCORD_WEBHOOK_URL"] = "https://discord.com/channels/1/2"
        assert messages(example) == [
            "  ✗ DISCORD_WEBHOOK_URL: is not a Discord webhook URL; copy it from Server Settings → "
            "Integrations → Webhooks (https://discord.com/api/webhooks/<id>/<token>), or leave it "
            "empty"
        ]

    def test_non_numeric_chat_id(self, example):
        """A chat id given as a @name is refused with where to find the number."""
        example |= {"TELEGRAM_BOT_TOKEN": TELEGRAM_BOT_TOKEN, "TELEGRAM_CHAT_ID": "@mychannel"}
        assert messages(example) == [
            "  ✗ TELEGRAM_CHAT_ID: must be a numeric chat id (groups are negative, e.g. "
            "-1001234567890), not '@mychannel'; @userinfobot tells yours"
        ]

    def test_telegram_needs_both_settings(self, example):
        """A bot token without a chat id names the missing setting."""
        example["TELEGRAM_BOT_TOKEN"] = TELEGRAM_BOT_TOKEN
        assert messages(example) == [
            "  ✗ TELEGRAM_CHAT_ID: is empty but Telegram needs both the bot token and the chat id"
        ]

    def test_bad_bot_token(self, example):
        """A Telegram token without the digits-colon shape is refused."""
        example |= {"TELEGRAM_BOT_TOKEN": "not-a-token", "TELEGRAM_CHAT_ID": "42"}
        assert messages(example)[0].startswith("  ✗ TELEGRAM_BOT_TOKEN: is not a bot token")

    def test_empty_password(self, example):
        """An empty Grafana password is refused with how to get one generated."""
        example["GRAFANA_ADMIN_PASSWORD"] = ""
        assert messages(example) == [
            "  ✗ GRAFANA_ADMIN_PASSWORD: must be at least 12 characters and not a default; delete "
            "the line and run `make up` to generate one, or set your own"
        ]

    def test_network_settings(self, example):
        """A host name as bind address, a port out of range and a port used twice are each named."""
        example |= {"BIND_ADDRESS": "localhost", "LOKI_PORT": "70000", "GRAFANA_PORT": "9090"}
        assert messages(example) == [
            "  ✗ BIND_ADDRESS: 'localhost' is not an IP address; use 127.0.0.1 (this machine "
            "only) or 0.0.0.0 (every interface)",
            "  ✗ PROMETHEUS_PORT: uses port 9090, already taken by GRAFANA_PORT",
            "  ✗ LOKI_PORT: must be a port number from 1 to 65535, not '70000'",
        ]

    def test_retention_formats(self, example):
        """Retention values must be durations and sizes the components accept."""
        example |= {
            "PROMETHEUS_RETENTION_TIME": "two weeks",
            "PROMETHEUS_RETENTION_SIZE": "5G",
            "LOKI_RETENTION_PERIOD": "36h",
            "LOKI_DISK_BUDGET": "lots",
        }
        assert messages(example) == [
            "  ✗ PROMETHEUS_RETENTION_TIME: 'two weeks' is not a duration such as 35d or 12w",
            "  ✗ PROMETHEUS_RETENTION_SIZE: '5G' is not a size such as 512MB or 5GB",
            "  ✗ LOKI_DISK_BUDGET: 'lots' is not a size such as 512MB or 10GB",
            "  ✗ LOKI_RETENTION_PERIOD: '36h' must be a whole number of days in hours, e.g. 336h "
            "(14 days): Loki deletes logs per 24h index period",
        ]

    def test_metrics_retention_must_cover_the_slo_window(self, example):
        """Keeping metrics for less than the 30-day SLO window is refused."""
        example["PROMETHEUS_RETENTION_TIME"] = "7d"
        assert messages(example) == [
            "  ✗ PROMETHEUS_RETENTION_TIME: 7d is shorter than the 30-day SLO window; use at "
            "least 30d"
        ]

    def test_port_in_use(self, example):
        """A host port held by another program is reported with the setting to change."""
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            example["GRAFANA_PORT"] = str(holder.getsockname()[1])
            problems = [str(p) for p in check_ports_free(example)]
        assert problems == [
            f"  ✗ GRAFANA_PORT: port {example['GRAFANA_PORT']} on 127.0.0.1 is already in use by "
            "another program; stop it or choose another port for GRAFANA_PORT in .env"
        ]


class TestUp:
    def test_first_run_creates_env_and_prints_the_password_once(self, root, docker):
        """The first `make up` creates .env and shows its password; later runs do not show it."""
        # Every port "taken" stops each run at the preflight, after the .env step.
        out = io.StringIO()
        up(root, docker=docker[0], out=out, in_use=lambda address, port: True)
        password = envfile.load(root / ".env").values["GRAFANA_ADMIN_PASSWORD"]
        assert f"Grafana admin password: {password}" in out.getvalue()
        again = io.StringIO()
        up(root, docker=docker[0], out=again, in_use=lambda address, port: True)
        assert password not in again.getvalue()

    def test_without_docker_nothing_starts(self, root, tmp_path):
        """Without a docker CLI the preflight says how to install it and exits non-zero."""
        out = io.StringIO()
        code = up(root, docker=str(tmp_path / "no-docker"), out=out, in_use=never_in_use)
        assert code == 1
        assert (
            "  ✗ Docker: Docker is not installed. Install Docker Engine with the Compose v2 plugin "
            "(https://docs.docker.com/engine/install/), then run `make up` again."
        ) in out.getvalue().splitlines()

    @pytest.mark.parametrize(
        ("script", "message"),
        [
            (
                'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2\n'
                "exit 1\n",
                "  ✗ Docker: The Docker engine is not reachable (`docker info` failed). Start it "
                "(e.g. `sudo systemctl start docker`) and make sure your user may use it (the "
                "`docker` group).",
            ),
            (
                'case "$1" in info) echo 28.2.2 ;; *) echo "docker: unknown command: docker $1" '
                ">&2; exit 1 ;; esac\n",
                "  ✗ Docker: Docker Compose v2 is missing (`docker compose version` failed). "
                "Install the docker-compose-plugin package; the old `docker-compose` v1 is not "
                "supported.",
            ),
        ],
        ids=["no engine", "no compose plugin"],
    )
    def test_docker_without_engine_or_compose_plugin(self, root, tmp_path, script, message):
        """A docker CLI whose engine is down, or which lacks the Compose plugin, is reported on
        one line saying what to do, and nothing starts."""
        docker = tmp_path / "bin" / "docker"
        docker.parent.mkdir()
        docker.write_text("#!/bin/sh\n" + script)
        docker.chmod(0o755)
        out = io.StringIO()
        assert up(root, docker=str(docker), out=out, in_use=never_in_use) == 1
        lines = out.getvalue().splitlines()
        assert lines[-2:] == ["Found 1 problem(s); nothing was started:", message]

    def test_bad_settings_are_all_reported_and_nothing_is_started(self, root, docker):
        """Every problem is printed at once, and `docker compose up` is never called."""
        example = (root / ".env.example").read_text()
        (root / ".env").write_text(
            example
            .replace("DISCORD_WEBHOOK_URL=\n", "DISCORD_WEBHOOK_URL=http://example.com/hook\n")
            .replace("TELEGRAM_CHAT_ID=\n", "TELEGRAM_CHAT_ID=abc\n")
            + "oops\n"
        )  # fmt: skip
        out = io.StringIO()
        assert up(root, docker=docker[0], out=out, in_use=never_in_use) == 1
        lines = out.getvalue().splitlines()
        assert lines[0] == "Found 5 problem(s); nothing was started:"
        assert [line.split(":")[0] for line in lines[1:]] == [
            f"  ✗ .env line {len(example.splitlines()) + 1}",
            "  ✗ DISCORD_WEBHOOK_URL",
            "  ✗ TELEGRAM_CHAT_ID",
            "  ✗ TELEGRAM_BOT_TOKEN",
            "  ✗ GRAFANA_ADMIN_PASSWORD",
        ]
        calls = docker[1].read_text()
        assert "info" in calls
        assert " up " not in calls

    def test_port_conflict_stops_before_starting(self, root, docker):
        """A taken host port is reported and nothing is started."""
        envfile.create_from_example(root / ".env.example", root / ".env")
        out = io.StringIO()
        code = up(root, docker=docker[0], out=out, in_use=lambda a, p: p == 3100)
        assert code == 1
        assert "  ✗ LOKI_PORT: port 3100 on 127.0.0.1 is already in use" in out.getvalue()
        assert " up " not in docker[1].read_text()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "ALERT_QUIET_HOURS=late",
            "  ✗ ALERT_QUIET_HOURS: must be HH:MM-HH:MM (e.g. 22:00-07:00), not 'late'",
        ),
        (
            "DEADMANSSWITCH_URL=hc-ping.com/some-uuid",
            "  ✗ DEADMANSSWITCH_URL: is not an http(s) URL; use your heartbeat check's ping URL "
            "(e.g. https://hc-ping.com/<uuid>), or leave it empty",
        ),
    ],
)
def test_alerting_settings_are_checked_before_starting(root, docker, line, problem):
    """A malformed quiet-hours window or heartbeat URL is one clear line of the preflight, not a
    crash at render, and nothing starts."""
    envfile.create_from_example(root / ".env.example", root / ".env")
    with (root / ".env").open("a") as env:
        env.write(f"{line}\n")
    out = io.StringIO()
    assert up(root, docker=docker[0], out=out, in_use=never_in_use) == 1
    assert problem in out.getvalue().splitlines()
    assert " up " not in docker[1].read_text()


class TestZoneFile:
    def test_the_configured_zone_is_copied_alone(self, tmp_path):
        """The quiet-hours zone's TZif file is copied, and only it, for the container to mount."""
        from stackctl.zonefile import copy_zone

        folder = tmp_path / "zoneinfo"
        (folder / "Stale").mkdir(parents=True)
        copy_zone("Europe/Berlin", folder)
        files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        assert files == ["Europe/Berlin"]
        assert (folder / "Europe" / "Berlin").read_bytes().startswith(b"TZif")

    def test_an_unknown_zone_is_an_error(self, tmp_path):
        """A zone this machine does not know raises with the zone's name."""
        from stackctl.zonefile import copy_zone

        with pytest.raises(FileNotFoundError, match="Mars/Olympus"):
            copy_zone("Mars/Olympus", tmp_path / "zoneinfo")


class FakeStates:
    """Answers `Compose.states()` from a script of successive snapshots."""

    def __init__(self, *snapshots: dict[str, str]) -> None:
        self.snapshots = list(snapshots)

    def states(self) -> dict[str, str]:
        return self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]


class TestProgressAndSummary:
    def test_one_line_per_service_as_it_becomes_healthy(self, monkeypatch):
        """Each service is announced once, when it turns healthy, and the wait then succeeds."""
        from stackctl import up as up_module

        monkeypatch.setattr(up_module.time, "sleep", lambda seconds: None)
        compose = FakeStates(
            {"loki": "starting", "bot": "starting"},
            {"loki": "healthy", "bot": "starting"},
            {"loki": "healthy", "bot": "healthy"},
        )
        out = io.StringIO()
        assert up_module.wait_healthy(compose, out)
        names = [line.split()[1] for line in out.getvalue().splitlines()]
        assert names == ["loki", "bot"]

    def test_a_service_that_exits_is_named_with_where_to_look(self, monkeypatch):
        """A crashed service ends the wait at once, named with the command to read its log."""
        from stackctl import up as up_module

        monkeypatch.setattr(up_module.time, "sleep", lambda seconds: None)
        out = io.StringIO()
        assert not up_module.wait_healthy(FakeStates({"grafana": "exited"}), out)
        assert out.getvalue().splitlines() == [
            "  ✗ grafana       exited — see `make logs s=grafana`"
        ]

    def test_summary_names_urls_password_and_channels(self, example):
        """The summary lists the URLs (0.0.0.0 shown as 127.0.0.1), password and channels."""
        from stackctl.up import summary

        example["BIND_ADDRESS"] = "0.0.0.0"
        out = io.StringIO()
        summary(example, ["discord"], out)
        text = out.getvalue()
        assert "http://127.0.0.1:3000" in text
        assert "http://127.0.0.1:9093" in text
        assert "admin / the GRAFANA_ADMIN_PASSWORD in .env" in text
        assert "Alerts go to: discord. Try it: make test-alert" in text

    def test_summary_without_channels_says_where_alerts_show(self, example):
        """With no channel configured, the summary says alerts stay in Alertmanager and Grafana."""
        from stackctl.up import summary

        out = io.StringIO()
        summary(example, [], out)
        assert "No alert channel configured: alerts show in Alertmanager and Grafana only." in (
            out.getvalue()
        )
