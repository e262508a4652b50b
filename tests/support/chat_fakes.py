"""Local stand-ins for a Discord webhook and the Telegram Bot API (aiohttp, on 127.0.0.1).

They accept what the real services accept and refuse the rest with the real error bodies
(tests/support/chat_limits.py), record every request, and can be told to fail: answer 429 (rate
limited) or 5xx for the next N requests or until further notice. They run on their own event loop
in a background thread, so synchronous tests and fixtures of any scope can use them.

    with ChatFakes() as fakes:
        fakes.discord.fail_next(500, times=1)
        ...  # point Alertmanager at fakes.discord.webhook_url and fakes.telegram.api_url
        message = fakes.discord.wait_for(lambda m: "BotDown" in m.title, timeout=30)
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.chat_limits import discord_problems, parse_telegram_html, telegram_problems
from tests.support.fake_secrets import (
    DISCORD_WEBHOOK_ID,
    DISCORD_WEBHOOK_TOKEN,
    TELEGRAM_BOT_TOKEN,
    TELEGRAM_CHAT_ID,
)


@dataclass
class Delivered:
    """One accepted message, flattened to what tests assert on."""

    title: str
    text: str  # Discord: the embed description; Telegram: the visible text after HTML parsing
    links: dict[str, str]  # link text → URL
    raw: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class _Fake:
    """Request log, scripted failures and waiting, shared by both fakes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Scripted answers: (status, substring of the request body it applies to, or "" for any).
        self._failures: list[tuple[int, str]] = []
        self._fail_always: tuple[int, str] | None = None
        self.messages: list[Delivered] = []
        self.attempts: list[tuple[float, int]] = []  # (time, status answered)
        self.port = 0

    def fail_next(self, status: int, times: int = 1, *, match: str = "") -> None:
        """Answer the next `times` requests containing `match` with `status`, then accept again.

        `match` keeps other alerts' notifications (which may arrive at any moment in a running
        stack) from using up a failure meant for the alert under test.
        """
        with self._lock:
            self._failures.extend([(status, match)] * times)

    def fail_always(self, status: int | None, *, match: str = "") -> None:
        """Answer every request containing `match` with `status` until called with None."""
        with self._lock:
            self._fail_always = None if status is None else (status, match)

    def reset_failures(self) -> None:
        with self._lock:
            self._failures.clear()
            self._fail_always = None

    def _scripted_failure(self, body: str) -> int | None:
        with self._lock:
            if self._fail_always and self._fail_always[1] in body:
                return self._fail_always[0]
            for index, (status, match) in enumerate(self._failures):
                if match in body:
                    del self._failures[index]
                    return status
            return None

    def _record(self, status: int, message: Delivered | None = None) -> None:
        with self._lock:
            self.attempts.append((time.monotonic(), status))
            if message is not None:
                self.messages.append(message)

    def wait_for(
        self, predicate: Callable[[Delivered], bool], timeout: float, *, after: float = 0.0
    ) -> Delivered:
        """The first accepted message (received after `after`) matching predicate, or fail."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [m for m in self.messages if m.at >= after and predicate(m)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                with self._lock:
                    seen = [m.title for m in self.messages]
                raise AssertionError(
                    f"{type(self).__name__}: no matching message within {timeout}s; got {seen}"
                )
            time.sleep(0.1)


class FakeDiscord(_Fake):
    """POST /api/webhooks/{id}/{token}: 204 on success, Discord's 400/404/429/5xx bodies else."""

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/{DISCORD_WEBHOOK_ID}/{DISCORD_WEBHOOK_TOKEN}"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/webhooks/{id}/{token}", self._execute)]

    async def _execute(self, request: web.Request) -> web.Response:
        if (request.match_info["id"], request.match_info["token"]) != (
            DISCORD_WEBHOOK_ID,
            DISCORD_WEBHOOK_TOKEN,
        ):
            self._record(404)
            return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        raw = await request.text()
        failure = self._scripted_failure(raw)
        if failure == 429:
            self._record(429)
            body = {"message": "You are being rate limited.", "retry_after": 1.0, "global": False}
            headers = {
                "Retry-After": "1",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Scope": "user",
            }
            return web.json_response(body, status=429, headers=headers)
        if failure is not None:
            self._record(failure)
            return web.json_response(
                {"message": "Internal Server Error", "code": 0}, status=failure
            )
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError:
            self._record(400)
            return web.json_response(
                {"message": "Cannot send an empty message", "code": 50006}, status=400
            )
        embeds = payload.get("embeds") or []
        if not (payload.get("content") or "").strip() and not embeds:
            self._record(400)
            return web.json_response(
                {"message": "Cannot send an empty message", "code": 50006}, status=400
            )
        problems = discord_problems(payload)
        if problems:
            self._record(400)
            errors = {
                key: {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": why}]}
                for key, why in problems.items()
            }
            return web.json_response(
                {"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400
            )
        embed = embeds[0] if embeds else {}
        description = embed.get("description") or payload.get("content") or ""
        self._record(
            204,
            Delivered(embed.get("title") or "", description, _markdown_links(description), payload),
        )
        return web.Response(status=204)


def _markdown_links(text: str) -> dict[str, str]:
    return {label: url for label, url in re.findall(r"\[([^\]]+)\]\(([^)\s]+)\)", text)}


class FakeTelegram(_Fake):
    """POST /bot{token}/sendMessage: {"ok": true, "result": Message} or Telegram's error JSON."""

    def __init__(self) -> None:
        super().__init__()
        self._message_id = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/bot{token}/{method}", self._call)]

    @staticmethod
    def _error(code: int, description: str, **extra: Any) -> web.Response:
        body = {"ok": False, "error_code": code, "description": description, **extra}
        return web.json_response(body, status=code)

    async def _call(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TELEGRAM_BOT_TOKEN:
            self._record(401)
            return self._error(401, "Unauthorized")
        if request.match_info["method"] != "sendMessage":
            self._record(404)
            return self._error(404, "Not Found")
        raw = await request.text()
        failure = self._scripted_failure(raw)
        if failure == 429:
            self._record(429)
            return self._error(
                429, "Too Many Requests: retry after 1", parameters={"retry_after": 1}
            )
        if failure is not None:
            self._record(failure)
            return self._error(failure, "Internal Server Error")
        if request.content_type == "application/json":
            params = json.loads(raw)
        else:
            params = dict(urllib.parse.parse_qsl(raw))
        if str(params.get("chat_id")) != str(TELEGRAM_CHAT_ID):
            self._record(400)
            return self._error(400, "Bad Request: chat not found")
        text, mode = str(params.get("text", "")), params.get("parse_mode") or None
        problems = telegram_problems(text, mode)
        if problems:
            self._record(400)
            return self._error(400, problems[0])
        parsed = parse_telegram_html(text) if mode == "HTML" else None
        visible = parsed.text if parsed else text
        links = {label: href for label, href in parsed.links} if parsed else {}
        self._message_id += 1
        self._record(200, Delivered(visible.split("\n", 1)[0], visible, links, dict(params)))
        result = {
            "message_id": self._message_id,
            "date": int(time.time()),
            "chat": {"id": TELEGRAM_CHAT_ID, "type": "supergroup", "title": "Botwatch tests"},
            "text": visible,
        }
        return web.json_response({"ok": True, "result": result})


class ChatFakes:
    """Both fakes on free ports of 127.0.0.1, served from a background thread until close()."""

    def __init__(self) -> None:
        self.discord = FakeDiscord()
        self.telegram = FakeTelegram()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runners: list[web.AppRunner] = []

    def __enter__(self) -> ChatFakes:
        self._thread.start()
        for fake in (self.discord, self.telegram):
            fake.port = asyncio.run_coroutine_threadsafe(self._serve(fake), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _serve(self, fake: FakeDiscord | FakeTelegram) -> int:
        app = web.Application()
        app.add_routes(fake.routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return runner.addresses[0][1]

    def close(self) -> None:
        for runner in self._runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
