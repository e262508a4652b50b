"""Secrets and chat content kept out of log lines and Sentry events.

Credentials are recognised by the shapes their issuers give them (Discord bot tokens, Discord
webhook URLs, Telegram bot tokens, Sentry DSNs) wherever they appear: a message, an extra field,
an exception text, a traceback. Chat content is recognised by where it sits: a field named like
a message's text (``content``...), or the text of an exception discord.py builds from what a user
typed (a bad argument, an unknown command). Both are replaced by ``[redacted:<kind>]``.

This runs once per log record and once per Sentry event, never per command: a line without a
secret costs one regular-expression search that fails.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

__all__ = [
    "CONTENT_FIELDS",
    "record_texts",
    "scrub_event",
    "scrub_field",
    "scrub_message",
    "scrub_text",
    "scrub_with",
]

# Credential shapes, each behind a substring every match contains: a line without it skips the
# regular expression (one alternation of all would defeat the engine's literal search and cost
# ten times more on every line). Each group's name is the kind written in the placeholder.
_SHAPES = (
    (
        "://",
        re.compile(
            r"https?://(?:"
            r"(?P<discord_webhook>(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?"
            r"/webhooks/\d+/[\w-]+)"
            # Credentials before '@' and a numeric project id after the host: a Sentry DSN.
            r"|(?P<sentry_dsn>[^\s/@:]+(?::[^\s/@]*)?@[^\s/]+/(?:[^\s/]+/)*\d+))"
        ),
    ),
    (":", re.compile(r"(?P<telegram_token>(?<!\d)\d{5,15}:[\w-]{30,})")),
    (".", re.compile(r"(?P<discord_token>(?<![\w-])[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,})")),
)

# Fields that hold a chat message's text in discord.py (Message.content, .clean_content,
# .system_content) and the names bots commonly log it under.
CONTENT_FIELDS = frozenset({"content", "clean_content", "system_content", "message_content"})
CONTENT = "[redacted:content]"


def _placeholder(match: re.Match[str]) -> str:
    return f"[redacted:{match.lastgroup}]"


def scrub_text(text: str) -> str:
    """``text`` with every credential replaced; the same object when there is none."""
    if ":" not in text and "." not in text:  # every shape has one: most lines stop here
        return text
    for marker, shape in _SHAPES:
        if marker in text and shape.search(text) is not None:
            text = shape.sub(_placeholder, text)
    return text


def scrub_field(key: str, value: Any) -> Any:
    """A log or event field's value: content fields redacted, credentials in text scrubbed."""
    if key in CONTENT_FIELDS:
        return CONTENT
    if value.__class__ is str:
        return scrub_text(value)
    return value


def content_exceptions() -> tuple[type[BaseException], ...]:
    """Exception types whose text quotes what a user typed (discord.py's, once it is loaded).

    Read from ``sys.modules``: a process that never imported discord.py raises none of them,
    and botwatch does not import it just to look.
    """
    commands = sys.modules.get("discord.ext.commands")
    if commands is None:
        return ()
    return (commands.UserInputError, commands.CommandNotFound)


def _chain(exc: BaseException | None) -> list[BaseException]:
    """The exception and its causes/contexts, each once."""
    seen: list[BaseException] = []
    while exc is not None and all(exc is not other for other in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def user_texts(*candidates: Any) -> list[str]:
    """The non-empty texts of content exceptions among ``candidates`` and their chains."""
    kinds = content_exceptions()
    if not kinds:
        return []
    texts = []
    for candidate in candidates:
        if isinstance(candidate, BaseException):
            texts += [str(e) for e in _chain(candidate) if isinstance(e, kinds) and str(e)]
    return texts


def record_texts(record: logging.LogRecord) -> list[str]:
    """User texts a record carries: in its exception, or in an exception among its arguments."""
    exc = record.exc_info[1] if record.exc_info else None
    args = record.args if record.args.__class__ is tuple else ()
    if exc is None:  # the common case: at most a look at the arguments' types
        for arg in args:
            if isinstance(arg, BaseException):
                break
        else:
            return []
    return user_texts(exc, *args)


def scrub_message(record: logging.LogRecord) -> str:
    """A record's formatted message (``record.message``), scrubbed: the per-record fast path."""
    if record.exc_info is None:
        args = record.args
        if args.__class__ is tuple:
            for arg in args:
                if isinstance(arg, BaseException):
                    return scrub_with(record.message, record_texts(record))
        return scrub_text(record.message)
    return scrub_with(record.message, record_texts(record))


def scrub_with(text: str, texts: list[str]) -> str:
    """``text`` with each user text in ``texts`` redacted and every credential scrubbed."""
    for quoted in texts:
        text = text.replace(quoted, CONTENT)
    return scrub_text(text)


# Parts of an event scrubbed already: each breadcrumb passed before_breadcrumb when recorded.
_SCRUBBED = frozenset({"breadcrumbs"})


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: CONTENT if key in CONTENT_FIELDS else v if key in _SCRUBBED else _walk(v)
            for key, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_walk(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def scrub_event(event: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """A Sentry event (or breadcrumb) with credentials and chat content removed everywhere.

    ``texts`` are user texts (:func:`user_texts`, :func:`record_texts`) of the exceptions the
    event reports: redacted wherever they appear.
    """
    scrubbed = _walk(event)
    if not texts:
        return scrubbed

    def redact(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: redact(v) for key, v in value.items()}
        if isinstance(value, list):
            return [redact(v) for v in value]
        return scrub_with(value, texts) if isinstance(value, str) else value

    return redact(scrubbed)
