"""Notification templates rendered by the real `amtool template render`, as the notifiers do.

The template text is the exact `title`/`message` string of the rendered config; Telegram's is
rendered in html mode (html/template), like Alertmanager's Telegram notifier in HTML parse mode.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from stackctl.alerting import render

from tests.support.chat_limits import (
    discord_problems,
    parse_telegram_html,
    telegram_problems,
    utf16_len,
)
from tests.support.fake_secrets import CHANNEL_SETTINGS

REPO = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATES = str(REPO / "alertmanager" / "templates" / "*.tmpl")
RUNBOOKS = "https://git.example.org/botwatch/blob/main"
GRAFANA = "https://grafana.example.org"
# What Alertmanager sends instead of an HTML message that is too long for Telegram.
TELEGRAM_REPLACED = "Alertmanager notification could not be sent"
HOSTILE = '<b>bold</b> & <a href="x">link</a> </code> `tick` *star* _under_ \'q\' "dq" é 🚀'


@pytest.fixture(scope="module")
def messages(tmp_path_factory) -> dict[tuple[str, bool], str]:
    """{(template key, with runbook base): the template text from the rendered config}."""
    found = {}
    for with_base in (True, False):
        env = {
            **CHANNEL_SETTINGS,
            "GRAFANA_URL": GRAFANA,
            "RUNBOOK_BASE_URL": RUNBOOKS if with_base else "",
        }
        folder = tmp_path_factory.mktemp("config")
        render(env, folder)
        config = yaml.safe_load((folder / "alertmanager.yml").read_text())
        critical = next(r for r in config["receivers"] if r["name"] == "critical")
        discord, telegram = critical["discord_configs"][0], critical["telegram_configs"][0]
        found["discord.title", with_base] = discord["title"]
        found["discord.message", with_base] = discord["message"]
        found["telegram.message", with_base] = telegram["message"]
    return found


@pytest.fixture
def rendered(tool, messages, tmp_path):
    """rendered(key, data, runbook_base=True) → the text Alertmanager would send."""

    def run(key: str, data: dict, *, runbook_base: bool = True) -> str:
        path = tmp_path / "data.json"
        path.write_text(json.dumps(data))
        kind = "html" if key.startswith("telegram") else "text"
        result = subprocess.run(
            [
                tool("amtool"),
                "template",
                "render",
                f"--template.glob={TEMPLATES}",
                f"--template.text={messages[key, runbook_base]}",
                f"--template.data={path}",
                f"--template.type={kind}",
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def big_group(count: int = 50, value_length: int = 400) -> dict:
    """A group of `count` alerts with long, hostile label and annotation values."""
    data = fixture("bot_down_firing")
    template = data["alerts"][0]
    alerts = []
    for index in range(count):
        alert = copy.deepcopy(template)
        long = f"{index:02d}-" + (HOSTILE * 20)[:value_length]
        alert["labels"].update(instance=long, shard=long, command=long, guild_tier=long)
        alert["annotations"]["summary"] = "Summary " + long
        alert["annotations"]["description"] = "Description " + long * 8
        alert["fingerprint"] = f"{index:016x}"
        alerts.append(alert)
    data["alerts"] = alerts
    data["groupLabels"] = {"alertname": "BotDown", "service": "bot", "instance": "x" * 600}
    data["commonLabels"] = {"alertname": "BotDown", "severity": "critical", "service": "bot"}
    return data


class TestBotDownFiring:
    def test_discord_title(self, rendered):
        """The Discord title states severity, alert name and service."""
        title = rendered("discord.title", fixture("bot_down_firing"))
        assert title == "🚨 CRITICAL · BotDown · bot"

    def test_discord_message(self, rendered):
        """The Discord message has summary, description, the distinguishing label, since, links."""
        text = rendered("discord.message", fixture("bot_down_firing"))
        expected = (
            "🚨 **Bot is down.**\n"
            "bot (bot:8000) has failed every scrape for 20s (up = 0): the process is gone or its "
            "/metrics endpoint does not answer.\n"
            "`instance=bot:8000`\n"
            "🕒 since 2026-11-25 20:00 UTC (DURATION)\n"
            f"📖 [Runbook]({RUNBOOKS}/docs/runbooks/BotDown.md) · "
            f"📊 [Dashboard]({GRAFANA}/d/botwatch-overview?var-service=bot)\n\n"
            "🔕 [Silence this group](http://127.0.0.1:9093/#/silences/new?filter="
            "%7Balertname%3D%22BotDown%22%2Cinstance%3D%22bot%3A8000%22%2Cservice%3D%22bot%22%7D)"
        )
        assert re.sub(r"\(\d+[dhms][^)]*\)", "(DURATION)", text, count=1) == expected

    def test_silence_link_prefills_the_group_matchers(self, rendered):
        """The silence link opens the new-silence form pre-filled with the group's matchers."""
        text = rendered("discord.message", fixture("bot_down_firing"))
        url = re.search(r"\[Silence this group\]\(([^)]+)\)", text)[1]
        prefix, _, encoded = url.partition("?filter=")
        assert prefix == "http://127.0.0.1:9093/#/silences/new"
        assert unquote(encoded) == '{alertname="BotDown",instance="bot:8000",service="bot"}'

    def test_runbook_is_plain_text_without_a_base(self, rendered):
        """With RUNBOOK_BASE_URL empty the runbook is shown as its repository path, not a link."""
        text = rendered("discord.message", fixture("bot_down_firing"), runbook_base=False)
        assert "📖 runbook: `docs/runbooks/BotDown.md`" in text
        assert "[Runbook]" not in text

    def test_telegram_message(self, rendered):
        """The Telegram message parses as Telegram HTML and carries the same facts and links."""
        html = rendered("telegram.message", fixture("bot_down_firing"))
        assert telegram_problems(html) == []
        parsed = parse_telegram_html(html)
        assert parsed.text.startswith("🚨 CRITICAL · BotDown · bot\n\n🚨 Bot is down.\n")
        assert "instance=bot:8000" in parsed.text
        links = dict(parsed.links)
        assert links["Runbook"] == f"{RUNBOOKS}/docs/runbooks/BotDown.md"
        assert links["Dashboard"] == f"{GRAFANA}/d/botwatch-overview?var-service=bot"
        silence = unquote(links["Silence this group"].partition("?filter=")[2])
        assert silence == '{alertname="BotDown",instance="bot:8000",service="bot"}'

    def test_telegram_runbook_without_a_base(self, rendered):
        """Without a runbook base Telegram shows the path in <code>, not a link."""
        html = rendered("telegram.message", fixture("bot_down_firing"), runbook_base=False)
        assert "📖 runbook: <code>docs/runbooks/BotDown.md</code>" in html


class TestResolved:
    def test_discord(self, rendered):
        """A resolved group says RESOLVED, how long it lasted, and offers no silence link."""
        data = fixture("bot_down_resolved")
        assert rendered("discord.title", data) == "✅ RESOLVED · BotDown · bot"
        text = rendered("discord.message", data)
        assert text == "✅ Bot is down. — after 5m 0s (bot:8000)"

    def test_telegram(self, rendered):
        """The Telegram resolved notice carries the same facts."""
        html = rendered("telegram.message", fixture("bot_down_resolved"))
        text = parse_telegram_html(html).text
        assert text == "✅ RESOLVED · BotDown · bot\n\n✅ Bot is down. — after 5m 0s (bot:8000)"

    def test_mixed_group_lists_firing_then_resolved(self, rendered):
        """A group with firing and resolved alerts counts both and lists each section."""
        data = fixture("bot_down_firing")
        resolved = copy.deepcopy(fixture("bot_down_resolved")["alerts"][0])
        resolved["labels"]["instance"] = "bot-2:8000"
        data["alerts"].append(resolved)
        assert (
            rendered("discord.title", data) == "🚨 CRITICAL · BotDown · bot · 1 firing, 1 resolved"
        )
        text = rendered("discord.message", data)
        assert "\n\nResolved:\n✅ Bot is down. — after 5m 0s (bot-2:8000)\n\n🔕" in text


class TestLimits:
    """A group of 50 alerts with long hostile values stays inside every limit, untruncated."""

    def test_discord_title_and_description_fit(self, rendered):
        """Title ≤ 256 and description ≤ 4096 (6000 overall), so the notifier never cuts them."""
        data = big_group()
        title, text = rendered("discord.title", data), rendered("discord.message", data)
        payload = {"username": "Botwatch", "embeds": [{"title": title, "description": text}]}
        assert discord_problems(payload) == {}
        assert "…and 47 more firing." in text
        assert text.count("🚨 **Summary") == 3
        # The long group labels fall back to a silence on the alert name alone.
        assert text.endswith("new?filter=%7Balertname%3D%22BotDown%22%7D)")

    def test_telegram_fits_and_is_not_replaced(self, rendered):
        """≤ 4096 visible characters (UTF-16), valid HTML, so Alertmanager sends it as written."""
        html = rendered("telegram.message", big_group())
        assert telegram_problems(html) == []
        text = parse_telegram_html(html).text
        assert TELEGRAM_REPLACED not in text
        assert utf16_len(text) <= 4096
        assert "…and 46 more firing." in text
        assert text.count("🚨 Summary") == 4

    @pytest.mark.parametrize("count", [1, 2, 4, 5, 50])
    def test_every_group_size_fits(self, rendered, count):
        """Group sizes around the listing cut-offs fit both channels too."""
        data = big_group(count)
        assert (
            discord_problems({"embeds": [{"description": rendered("discord.message", data)}]}) == {}
        )
        assert telegram_problems(rendered("telegram.message", data)) == []


class TestEscaping:
    def test_telegram_escapes_every_value(self, rendered):
        """Tags, quotes and ampersands in labels and annotations arrive as literal text."""
        data = fixture("bot_down_firing")
        alert = data["alerts"][0]
        alert["labels"]["instance"] = HOSTILE
        alert["annotations"].update(summary=HOSTILE, description=HOSTILE)
        html = rendered("telegram.message", data)
        assert telegram_problems(html) == []
        parsed = parse_telegram_html(html)
        assert f"🚨 {HOSTILE}\n{HOSTILE}\n" in parsed.text
        assert len(parsed.links) == 3  # runbook, dashboard, silence: no link injected by a value

    def test_discord_keeps_values_inside_code_spans(self, rendered):
        """A backtick in a label value cannot end the code span the labels are shown in."""
        data = fixture("bot_down_firing")
        data["alerts"][0]["labels"]["instance"] = "a`b"
        assert "`instance=a'b`" in rendered("discord.message", data)

    def test_discord_digest_of_different_alerts(self, rendered):
        """An info digest of different alerts names no single alert and lists each one's links."""
        data = fixture("bot_down_firing")
        second = copy.deepcopy(data["alerts"][0])
        second["labels"].update(alertname="BotExporterLabelOverflow", severity="info")
        second["annotations"]["runbook_url"] = "docs/runbooks/BotExporterLabelOverflow.md"
        data["alerts"][0]["labels"]["severity"] = "info"
        data["alerts"].append(second)
        data["commonLabels"] = {"severity": "info", "service": "bot", "job": "bot"}
        data["groupLabels"] = {"severity": "info"}
        assert rendered("discord.title", data) == "ℹ️ INFO · bot · 2 firing"
        text = rendered("discord.message", data)
        assert "docs/runbooks/BotDown.md" in text
        assert "docs/runbooks/BotExporterLabelOverflow.md" in text
