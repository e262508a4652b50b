"""`make test-alert` (stackctl.testalert) against the running Alertmanager and the chat fakes."""

from __future__ import annotations

import time

from stackctl.testalert import main

from tests.support.fake_secrets import CHANNEL_SETTINGS


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
