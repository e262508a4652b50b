"""The message rules of Discord webhooks and the Telegram Bot API, as the real services apply them.

Used by the fake servers (tests/support/chat_fakes.py), which answer a breach with the real API's
error, and by the template tests, which check rendered messages before any server sees them.

Sources: Discord "Embed Limits" and "Execute Webhook" (content 2000, title 256, description 4096,
25 fields, footer 2048, author 256, 6000 characters over all embeds, 10 embeds, username 80 and
not containing "discord" or "clyde"); Telegram Bot API "Formatting options → HTML style" (the tag
set below, the four named entities plus numeric ones, everything else literal) and sendMessage
(1-4096 characters after entities parsing). Telegram counts UTF-16 code units, so an emoji costs
two; counting them that way here keeps every message acceptable to the real service.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

DISCORD_LIMITS = {"content": 2000, "title": 256, "description": 4096, "total": 6000}
TELEGRAM_MAX_CHARS = 4096
# Alertmanager refuses to send more than 1 << 15 bytes of HTML before Telegram even parses it.
TELEGRAM_MAX_BYTES = 1 << 15

# Tag → attributes it may carry (Telegram Bot API, HTML style).
TELEGRAM_TAGS: dict[str, set[str]] = {
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "u": set(),
    "ins": set(),
    "s": set(),
    "strike": set(),
    "del": set(),
    "span": {"class"},
    "tg-spoiler": set(),
    "a": {"href"},
    "tg-emoji": {"emoji-id"},
    "code": {"class"},
    "pre": set(),
    "blockquote": {"expandable"},
}
# Entities cannot nest inside these (except <code> directly in <pre>).
TELEGRAM_LEAVES = {"code", "pre"}
_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_ATTR_RE = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot);?|#(\d{1,7});?|#x([0-9a-fA-F]{1,6});?)")


def utf16_len(text: str) -> int:
    """Length as Telegram and Discord's clients count it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class TelegramParseError(ValueError):
    """What Telegram answers 400 "Bad Request: can't parse entities: ..." with."""


def _decode_entities(raw: str) -> str:
    def one(match: re.Match[str]) -> str:
        named, decimal, hexa = match.groups()
        if named:
            return html.unescape(f"&{named};")
        code = int(decimal) if decimal else int(hexa, 16)
        return chr(code) if 0 < code < 0x110000 else match[0]

    return _ENTITY_RE.sub(one, raw)


@dataclass(frozen=True)
class TelegramMessage:
    """A parsed HTML message: its visible text and the links it carries."""

    text: str
    links: tuple[tuple[str, str], ...]  # (visible text, href)


def parse_telegram_html(message: str) -> TelegramMessage:
    """Parse like Telegram's HTML mode; raises TelegramParseError where Telegram would refuse.

    Checks: every `<` starts a supported tag, tags carry only their attributes, close in order,
    `<a>` has an href, nothing nests inside <code>/<pre> (but <pre><code>), no tag is left open.
    """
    text: list[str] = []
    links: list[tuple[str, str]] = []
    stack: list[tuple[str, int, str]] = []  # (tag, start of its text, href)
    pos = 0
    while pos < len(message):
        lt = message.find("<", pos)
        chunk = message[pos : lt if lt >= 0 else len(message)]
        text.append(_decode_entities(chunk))
        if lt < 0:
            break
        offset = len(message[:lt].encode())
        match = _TAG_RE.match(message, lt)
        if not match:
            raise TelegramParseError(f"Unexpected character '<' at byte offset {offset}")
        closing, tag, attrs = match[1], match[2].lower(), match[3]
        if tag not in TELEGRAM_TAGS:
            kind = "end" if closing else "start"
            raise TelegramParseError(f'Unsupported {kind} tag "{tag}" at byte offset {offset}')
        if closing:
            if not stack or stack[-1][0] != tag:
                expected = f'"</{stack[-1][0]}>"' if stack else "no end tag"
                raise TelegramParseError(
                    f"Unmatched end tag at byte offset {offset}, expected {expected}, "
                    f'found "</{tag}>"'
                )
            _, start, href = stack.pop()
            if tag == "a":
                links.append(("".join(text)[start:], href))
        else:
            found = {name.lower(): value for name, value in _ATTR_RE.findall(attrs)}
            unknown = set(found) - TELEGRAM_TAGS[tag]
            if unknown:
                raise TelegramParseError(
                    f'Unsupported attribute "{sorted(unknown)[0]}" of tag "{tag}" '
                    f"at byte offset {offset}"
                )
            if (
                stack
                and stack[-1][0] in TELEGRAM_LEAVES
                and not (stack[-1][0] == "pre" and tag == "code")
            ):
                raise TelegramParseError(
                    f'Can\'t nest "{tag}" in "{stack[-1][0]}" at byte offset {offset}'
                )
            if tag == "a" and any(entry[0] == "a" for entry in stack):
                raise TelegramParseError(f"Nested links are not allowed at byte offset {offset}")
            href = _decode_entities(found.get("href", "").strip("\"'"))
            if tag == "a" and not href:
                raise TelegramParseError(f"Link without href at byte offset {offset}")
            stack.append((tag, len("".join(text)), href))
        pos = match.end()
    if stack:
        raise TelegramParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return TelegramMessage("".join(text), tuple(links))


def telegram_problems(message: str, parse_mode: str | None = "HTML") -> list[str]:
    """Telegram's sendMessage refusals for this text, as its error descriptions; [] if accepted."""
    if parse_mode == "HTML":
        if len(message.encode()) > TELEGRAM_MAX_BYTES:
            return ["Bad Request: message is too long"]
        try:
            visible = parse_telegram_html(message).text
        except TelegramParseError as exc:
            return [f"Bad Request: can't parse entities: {exc}"]
    else:
        visible = message
    if not visible.strip():
        return ["Bad Request: message text is empty"]
    if utf16_len(visible) > TELEGRAM_MAX_CHARS:
        return ["Bad Request: message is too long"]
    return []


def discord_problems(payload: dict) -> dict[str, str]:
    """Discord's per-field refusals of an Execute Webhook body ({} if accepted)."""
    errors: dict[str, str] = {}
    content = payload.get("content") or ""
    embeds = payload.get("embeds") or []
    if len(content) > DISCORD_LIMITS["content"]:
        errors["content"] = f"Must be {DISCORD_LIMITS['content']} or fewer in length."
    if len(embeds) > 10:
        errors["embeds"] = "Must be 10 or fewer in length."
    username = payload.get("username") or ""
    if len(username) > 80 or re.search("discord|clyde", username, re.IGNORECASE):
        errors["username"] = "Username cannot contain discord or clyde, max 80 characters."
    total = 0
    for index, embed in enumerate(embeds):
        for field in ("title", "description"):
            value = embed.get(field) or ""
            total += len(value)
            if len(value) > DISCORD_LIMITS[field]:
                errors[f"embeds.{index}.{field}"] = (
                    f"Must be {DISCORD_LIMITS[field]} or fewer in length."
                )
        for field in embed.get("fields") or []:
            total += len(field.get("name") or "") + len(field.get("value") or "")
        total += len((embed.get("footer") or {}).get("text") or "")
    if total > DISCORD_LIMITS["total"]:
        errors["embeds"] = f"Embed size exceeds maximum size of {DISCORD_LIMITS['total']}"
    return errors
