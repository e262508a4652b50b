"""Tests of botwatch.scrub through the JSON log lines: planted secrets never reach a line."""

from __future__ import annotations

import logging

import pytest
from botwatch import scrub
from botwatch.logging import JsonFormatter
from discord.ext import commands

from tests.support.fake_secrets import PLANTED, USER_TEXT


def leaks(text: str) -> list[str]:
    """The planted secrets and user text found in ``text``."""
    return [value for value in [*PLANTED.values(), USER_TEXT] if value in text]


class TestScrubText:
    @pytest.mark.parametrize("kind", sorted(PLANTED))
    def test_each_credential_kind_is_replaced_by_its_placeholder(self, kind):
        """A credential inside a sentence becomes [redacted:<kind>], the words around it stay."""
        text = f"calling with {PLANTED[kind]} now"
        assert scrub.scrub_text(text) == f"calling with [redacted:{kind}] now"

    def test_a_telegram_api_url_loses_its_token(self):
        """The token inside a Bot API URL (.../bot<token>/sendMessage) is found too."""
        url = f"https://api.telegram.org/bot{PLANTED['telegram_token']}/sendMessage"
        assert (
            scrub.scrub_text(url)
            == "https://api.telegram.org/bot[redacted:telegram_token]/sendMessage"
        )

    @pytest.mark.parametrize(
        "text",
        ["GET /api/v10/channels/123456789012345678/messages 200",
         "https://grafana.example.com:3000/d/botwatch-overview?from=now-1h",
         "discord.ext.commands.errors.CommandInvokeError", "10:42:07.123 took 12.5 ms"],
    )  # fmt: skip
    def test_ordinary_lines_are_kept_as_they_are(self, text):
        """Routes, URLs without credentials, dotted names and times are not mistaken for secrets."""
        assert scrub.scrub_text(text) is text


def raise_chained() -> None:
    try:
        raise ConnectionError(f"POST {PLANTED['discord_webhook']} refused")
    except ConnectionError as cause:
        raise RuntimeError(
            f"login with {PLANTED['discord_token']} via {PLANTED['sentry_dsn']} failed"
        ) from cause


class TestLogLines:
    def test_secrets_in_the_message_are_scrubbed(self, obs, logs):
        """Every kind planted in a message (as a %-argument) is replaced in the line."""
        logging.getLogger("bot").warning("config: %s", " ".join(PLANTED.values()))
        (line,) = [r for r in logs.records() if r["message"].startswith("config: ")]
        assert leaks(logs.getvalue()) == []
        assert line["message"] == "config: " + " ".join(f"[redacted:{k}]" for k in PLANTED)

    def test_secrets_and_content_in_extra_fields_are_scrubbed(self, obs, logs):
        """A credential in an extra field is scrubbed; a message's content field is redacted."""
        logging.getLogger("bot").info(
            "got message", extra={"token_used": PLANTED["telegram_token"], "content": USER_TEXT}
        )
        line = logs.find("got message")
        assert (line["token_used"], line["content"]) == (
            "[redacted:telegram_token]",
            "[redacted:content]",
        )
        assert leaks(logs.getvalue()) == []

    def test_exception_texts_and_tracebacks_are_scrubbed(self, obs, logs):
        """Credentials in an exception's text and in its cause's are gone from the traceback."""
        try:
            raise_chained()
        except RuntimeError:
            logging.getLogger("bot").exception("startup failed")
        line = logs.find("startup failed")
        assert "[redacted:discord_webhook]" in line["exc_info"]
        assert "[redacted:discord_token]" in line["exc_info"]
        assert "raise_chained()" in line["exc_info"]  # still a useful traceback
        assert leaks(logs.getvalue()) == []

    def test_user_typed_exception_texts_are_redacted(self, obs, logs):
        """discord.py's errors that quote the user's input lose that text in message and trace."""
        try:
            raise commands.MemberNotFound(USER_TEXT)
        except commands.MemberNotFound as exc:
            logging.getLogger("bot").exception("lookup failed: %s", exc)
        line = logs.find("lookup failed: [redacted:content]")
        assert line["exc_type"] == "MemberNotFound"
        assert "MemberNotFound: [redacted:content]" in line["exc_info"]
        assert leaks(logs.getvalue()) == []

    def test_stack_dumps_are_scrubbed(self):
        """A stack dump (stack_info=True) whose source line holds a token is scrubbed too."""
        stack = f'  File "bot.py", line 3, in <module>\n    bot.run("{PLANTED["discord_token"]}")'
        dumped = JsonFormatter(service="s").formatStack(stack)
        assert (
            dumped
            == '  File "bot.py", line 3, in <module>\n    bot.run("[redacted:discord_token]")'
        )
