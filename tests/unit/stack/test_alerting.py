"""The Alertmanager config renderer: every channel combination, secrets, quiet hours, bad values."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from stackctl.alerting import BASE, MARKER, check_alerting, render, rendered_section
from stackctl.secretfiles import write_secrets

from tests.support.fake_secrets import (
    DEADMANSSWITCH_URL,
    DISCORD_WEBHOOK_ID,
    DISCORD_WEBHOOK_URL,
    TELEGRAM_BOT_TOKEN,
    TELEGRAM_CHAT_ID,
)

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = str(REPO / "alertmanager" / "templates")
DISCORD = {"DISCORD_WEBHOOK_URL": DISCORD_WEBHOOK_URL}
TELEGRAM = {"TELEGRAM_BOT_TOKEN": TELEGRAM_BOT_TOKEN, "TELEGRAM_CHAT_ID": str(TELEGRAM_CHAT_ID)}

# Settings → the integrations each receiver must have. Receiver names are the routing tree's.
ALL = ("critical", "warning", "info-digest", "telegram-failover", "discord-failover", "test-alert")
COMBINATIONS = {
    "neither": ({}, {name: set() for name in ALL}),
    "discord only": (
        DISCORD,
        {
            "critical": {"discord"},
            "warning": {"discord"},
            "info-digest": {"discord"},
            "telegram-failover": set(),
            "discord-failover": {"discord"},
            "test-alert": {"discord"},
        },
    ),
    "telegram only": (
        TELEGRAM,
        {
            "critical": {"telegram"},
            "warning": set(),
            "info-digest": set(),
            "telegram-failover": {"telegram"},
            "discord-failover": set(),
            "test-alert": {"telegram"},
        },
    ),
    "telegram only, warnings too": (
        {**TELEGRAM, "TELEGRAM_WARNINGS": "true"},
        {
            "critical": {"telegram"},
            "warning": {"telegram"},
            "info-digest": {"telegram"},
            "telegram-failover": {"telegram"},
            "discord-failover": set(),
            "test-alert": {"telegram"},
        },
    ),
    "both": (
        {**DISCORD, **TELEGRAM},
        {
            "critical": {"discord", "telegram"},
            "warning": {"discord"},
            "info-digest": {"discord"},
            "telegram-failover": {"telegram"},
            "discord-failover": {"discord"},
            "test-alert": {"discord", "telegram"},
        },
    ),
    "both, warnings too": (
        {**DISCORD, **TELEGRAM, "TELEGRAM_WARNINGS": "true"},
        {
            "critical": {"discord", "telegram"},
            "warning": {"discord", "telegram"},
            "info-digest": {"discord", "telegram"},
            "telegram-failover": {"telegram"},
            "discord-failover": {"discord"},
            "test-alert": {"discord", "telegram"},
        },
    ),
}


def _render(tmp_path: Path, env: dict[str, str]) -> tuple[list[str], dict]:
    channels = render(env, tmp_path, templates_dir=TEMPLATES)
    return channels, yaml.safe_load((tmp_path / "alertmanager.yml").read_text())


def _integrations(config: dict) -> dict[str, set[str]]:
    return {
        receiver["name"]: {key.removesuffix("_configs") for key in receiver if key != "name"}
        for receiver in config["receivers"]
    }


class TestChannelCombinations:
    @pytest.mark.parametrize("case", COMBINATIONS)
    def test_amtool_accepts_the_rendered_config(self, case, tmp_path, tool):
        """The config rendered for this combination passes the real `amtool check-config`."""
        _render(tmp_path, COMBINATIONS[case][0])
        result = subprocess.run(
            [tool("amtool"), "check-config", str(tmp_path / "alertmanager.yml")],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 templates" in result.stdout  # botwatch.tmpl was found and parsed

    @pytest.mark.parametrize("case", COMBINATIONS)
    def test_each_receiver_gets_exactly_its_channels(self, case, tmp_path):
        """Each receiver has a notifier for exactly the configured channels it is meant to use."""
        env, expected = COMBINATIONS[case]
        _, config = _render(tmp_path, env)
        assert _integrations(config) == {**expected, "heartbeat": set()}

    @pytest.mark.parametrize("case", COMBINATIONS)
    def test_returns_the_configured_channels(self, case, tmp_path):
        """render() returns the configured channels in a fixed order, [] for none."""
        env = COMBINATIONS[case][0]
        expected = [c for c in ("discord", "telegram") if any(c.upper() in k for k in env)]
        assert _render(tmp_path, env)[0] == expected

    def test_half_configured_telegram_is_not_a_channel(self, tmp_path):
        """A bot token without a chat id renders no Telegram notifier (the preflight flags it)."""
        channels, config = _render(tmp_path, {"TELEGRAM_BOT_TOKEN": TELEGRAM_BOT_TOKEN})
        assert channels == []
        assert all(not found for found in _integrations(config).values())


class TestSecrets:
    def test_no_secret_value_reaches_the_rendered_file(self, tmp_path):
        """Webhook URL, bot token and chat id appear nowhere in the rendered config."""
        render({**DISCORD, **TELEGRAM}, tmp_path)
        text = (tmp_path / "alertmanager.yml").read_text()
        for secret in (
            DISCORD_WEBHOOK_URL,
            DISCORD_WEBHOOK_ID,
            TELEGRAM_BOT_TOKEN,
            str(TELEGRAM_CHAT_ID),
        ):
            assert secret not in text

    def test_notifiers_read_the_compose_secret_files(self, tmp_path):
        """Discord and Telegram notifiers name /run/secrets files, never inline values."""
        _, config = _render(tmp_path, {**DISCORD, **TELEGRAM})
        critical = next(r for r in config["receivers"] if r["name"] == "critical")
        assert (
            critical["discord_configs"][0]["webhook_url_file"] == "/run/secrets/discord_webhook_url"
        )
        assert "webhook_url" not in critical["discord_configs"][0]
        telegram = critical["telegram_configs"][0]
        assert telegram["bot_token_file"] == "/run/secrets/telegram_bot_token"
        assert telegram["chat_id_file"] == "/run/secrets/telegram_chat_id"
        assert "bot_token" not in telegram and "chat_id" not in telegram


PING = {"DEADMANSSWITCH_URL": DEADMANSSWITCH_URL}


class TestDeadMansSwitch:
    def test_off_by_default(self, tmp_path):
        """Without DEADMANSSWITCH_URL the heartbeat receiver has no notifier: nothing is pinged."""
        _, config = _render(tmp_path, {**DISCORD, **TELEGRAM})
        assert _integrations(config)["heartbeat"] == set()

    def test_the_heartbeat_pings_from_the_secret_file_and_never_on_resolve(self, tmp_path, tool):
        """Set, the heartbeat receiver alone gets a webhook reading the URL from its secret file,
        without resolved notices, and the real amtool accepts the config."""
        _, config = _render(tmp_path, {**DISCORD, **PING})
        webhooks = {
            r["name"]: r["webhook_configs"] for r in config["receivers"] if "webhook_configs" in r
        }
        assert webhooks == {
            "heartbeat": [{"url_file": "/run/secrets/deadmansswitch_url", "send_resolved": False}]
        }
        assert PING["DEADMANSSWITCH_URL"] not in (tmp_path / "alertmanager.yml").read_text()
        check = subprocess.run(
            [tool("amtool"), "check-config", str(tmp_path / "alertmanager.yml")],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr

    def test_the_url_is_written_to_its_compose_secret_file(self, tmp_path):
        """`make up` writes DEADMANSSWITCH_URL to .secrets/deadmansswitch_url, which compose.yaml
        gives the alertmanager service (an empty file when the switch is off)."""
        write_secrets(PING, tmp_path / "on")
        write_secrets({}, tmp_path / "off")
        assert (tmp_path / "on" / "deadmansswitch_url").read_text() == PING["DEADMANSSWITCH_URL"]
        assert (tmp_path / "off" / "deadmansswitch_url").read_text() == ""
        compose = yaml.safe_load((REPO / "compose.yaml").read_text())
        assert "deadmansswitch_url" in compose["services"]["alertmanager"]["secrets"]
        assert compose["secrets"]["deadmansswitch_url"] == {"file": "./.secrets/deadmansswitch_url"}


class TestBase:
    def test_committed_base_is_the_render_without_channels(self):
        """The committed base below its marker is exactly the render for no channel."""
        committed = BASE.read_text().partition(MARKER)[2]
        assert committed == "\n" + rendered_section({})

    def test_telegram_is_html_and_silent_only_for_the_digest(self, tmp_path):
        """Telegram runs in HTML mode; only the info digest is sent without a notification sound."""
        _, config = _render(tmp_path, {**TELEGRAM, "TELEGRAM_WARNINGS": "true"})
        modes = {
            r["name"]: (
                r["telegram_configs"][0]["parse_mode"],
                r["telegram_configs"][0]["disable_notifications"],
            )
            for r in config["receivers"]
            if "telegram_configs" in r
        }
        assert modes.pop("info-digest") == ("HTML", True)
        assert set(modes.values()) == {("HTML", False)}

    def test_link_bases_travel_in_the_message_template(self, tmp_path):
        """GRAFANA_URL and RUNBOOK_BASE_URL (trailing slash dropped) are passed to the templates."""
        env = {
            **DISCORD,
            "GRAFANA_URL": "https://grafana.example.org/",
            "RUNBOOK_BASE_URL": "https://git.example.org/b/",
        }
        _, config = _render(tmp_path, env)
        message = config["receivers"][0]["discord_configs"][0]["message"]
        assert '"RunbookBaseURL" "https://git.example.org/b"' in message
        assert '"GrafanaURL" "https://grafana.example.org"' in message

    def test_grafana_url_has_a_default(self, tmp_path):
        """Without GRAFANA_URL the dashboard links point at the local Grafana."""
        _, config = _render(tmp_path, DISCORD)
        assert (
            '"GrafanaURL" "http://127.0.0.1:3000"'
            in config["receivers"][0]["discord_configs"][0]["message"]
        )


class TestQuietHours:
    def _intervals(self, tmp_path: Path, env: dict[str, str]) -> list:
        _, config = _render(tmp_path, env)
        (quiet,) = config["time_intervals"]
        assert quiet["name"] == "quiet-hours"
        return quiet["time_intervals"]

    def test_off_by_default(self, tmp_path):
        """Without ALERT_QUIET_HOURS the quiet-hours interval is empty, so it never mutes."""
        assert self._intervals(tmp_path, {}) == []

    def test_a_range_across_midnight_is_split(self, tmp_path):
        """22:00-07:00 becomes 22:00-24:00 plus 00:00-07:00 (Alertmanager ranges cannot wrap)."""
        (interval,) = self._intervals(tmp_path, {"ALERT_QUIET_HOURS": "22:00-07:00"})
        assert interval == {
            "times": [
                {"start_time": "22:00", "end_time": "24:00"},
                {"start_time": "00:00", "end_time": "07:00"},
            ]
        }

    def test_a_daytime_range_and_its_time_zone(self, tmp_path, tool):
        """09:00-17:30 in Europe/Berlin is one range with its location, accepted by amtool."""
        env = {"ALERT_QUIET_HOURS": "09:00-17:30", "ALERT_TIMEZONE": "Europe/Berlin"}
        (interval,) = self._intervals(tmp_path, env)
        assert interval == {
            "times": [{"start_time": "09:00", "end_time": "17:30"}],
            "location": "Europe/Berlin",
        }
        check = subprocess.run([tool("amtool"), "check-config", str(tmp_path / "alertmanager.yml")])
        assert check.returncode == 0


class TestBadSettings:
    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("ALERT_QUIET_HOURS", "late"),
            ("ALERT_QUIET_HOURS", "25:00-07:00"),
            ("ALERT_QUIET_HOURS", "07:00-07:00"),
            ("ALERT_TIMEZONE", "Mars/Olympus_Mons"),
            ("TELEGRAM_API_URL", "api.telegram.org"),
            ("GRAFANA_URL", 'http://x/"}}{{'),
            ("RUNBOOK_BASE_URL", "https://git.example.org/(x)"),
            ("DEADMANSSWITCH_URL", "hc-ping.com/0f3b"),
        ],
    )
    def test_a_bad_value_is_named_and_nothing_is_written(self, key, value, tmp_path):
        """A malformed setting raises a message naming it, and no config file is written."""
        assert [p.key for p in check_alerting({key: value})] == [key]
        with pytest.raises(ValueError, match=key):
            render({key: value}, tmp_path)
        assert not (tmp_path / "alertmanager.yml").exists()

    def test_the_shipped_defaults_are_valid(self):
        """Empty quiet hours, UTC, no Telegram API override and empty link bases pass."""
        env = {
            "ALERT_QUIET_HOURS": "",
            "ALERT_TIMEZONE": "UTC",
            "TELEGRAM_API_URL": "",
            "RUNBOOK_BASE_URL": "",
        }
        assert check_alerting(env) == []
