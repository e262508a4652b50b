"""`make test-alert` (stackctl.testalert) against the running Alertmanager and the chat fakes."""

from __future__ import annotations

import time

import pytest
from stackctl.testalert import main

from tests.support.fake_secrets import CHANNEL_SETTINGS
from tests.support.native_stack import Alertmanager, write_alertmanager_config

# What a new user has most often: one channel, rendered into a config that only knows that one.
ONE_CHANNEL = {
    "discord": {"DISCORD_WEBHOOK_URL": CHANNEL_SETTINGS["DISCORD_WEBHOOK_URL"]},
    "telegram": {key: CHANNEL_SETTINGS[key] for key in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID")},
}


def _is_test(message) -> bool:
    return "BotwatchTestAlert" in message.title


def test_reports_delivery_on_both_channels_then_resolves(chats, alertmanager, capsys):
    """The marked test alert reaches both channels, is reported delivered, then resolved."""
    start = time.monotonic()
    assert main(["--url", alertmanager.url, "--timeout", "30"], CHANNEL_SETTINGS) == 0
    out = capsys.readouterr().out
    assert "✓ discord   delivered" in out
    assert "✓ telegram  delivered" in out
    for fake in (chats.discord, chats.telegram):
        firing = fake.wait_for(lambda m: _is_test(m) and "RESOLVED" not in m.title, 5, after=start)
        assert "Test notification from `make test-alert`: nothing is wrong." in firing.text
        fake.wait_for(lambda m: _is_test(m) and "RESOLVED" in m.title, 30, after=start)


def test_reports_a_failing_channel_with_the_reason(chats, alertmanager, capsys):
    """A channel whose API refuses (deleted webhook: 404) is reported failed, with a hint."""
    chats.discord.fail_always(404, match="BotwatchTestAlert")
    assert main(["--url", alertmanager.url, "--timeout", "30"], CHANNEL_SETTINGS) == 1
    out = capsys.readouterr().out
    assert "✗ discord   failed (" in out
    assert "check DISCORD_WEBHOOK_URL" in out
    assert "✓ telegram  delivered" in out


def test_without_channels_it_says_what_to_set(alertmanager, capsys):
    """With no channel configured it sends nothing and says which settings to fill in."""
    assert main(["--url", alertmanager.url], {}) == 1
    assert "DISCORD_WEBHOOK_URL" in capsys.readouterr().out


def test_a_stack_that_is_down_is_reported(capsys, free_port):
    """An Alertmanager that does not answer gives a clear message, not a traceback."""
    assert main(["--url", f"http://127.0.0.1:{free_port()}"], CHANNEL_SETTINGS) == 1
    assert "Is the stack up?" in capsys.readouterr().out


@pytest.fixture(params=sorted(ONE_CHANNEL))
def one_channel(request, tool, chat_fakes, tmp_path):
    """(channel name, its settings, an Alertmanager whose config has only that channel)."""
    channel = request.param
    settings = ONE_CHANNEL[channel]
    config = write_alertmanager_config(tmp_path / "am", chat_fakes, fast=True, channels=settings)
    manager = Alertmanager(tool, tmp_path, config)
    manager.start()
    yield channel, settings, manager
    manager.stop()


def test_reports_delivery_with_one_channel_configured(one_channel, chat_fakes, capsys):
    """With only Discord (or only Telegram) set, the test alert reaches that channel alone."""
    channel, settings, manager = one_channel
    start = time.monotonic()
    assert main(["--url", manager.url, "--timeout", "30"], settings) == 0
    out = capsys.readouterr().out
    other = "telegram" if channel == "discord" else "discord"
    assert f"✓ {channel:<9} delivered" in out
    assert other not in out
    fake, unused = getattr(chat_fakes, channel), getattr(chat_fakes, other)
    fake.wait_for(lambda m: _is_test(m) and "RESOLVED" in m.title, 30, after=start)
    assert not [m for m in unused.messages if m.at >= start and _is_test(m)]
