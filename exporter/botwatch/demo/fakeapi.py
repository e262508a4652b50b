"""A small stand-in for Discord's REST API, served locally so discord.py's real HTTP
client (routes, rate-limit buckets, 429 retries) runs unchanged in the demo and tests.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import payloads

API = "/api/v10"


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py decodes a body only if Content-Type is exactly "application/json";
    # aiohttp's json_response would append "; charset=utf-8".
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


class FakeDiscordAPI:
    """Answers the calls a simple bot makes; can delay answers and return 429s.

    ``latency()`` gives each answer's delay; ``rate_limit_probability`` the share of
    calls answered 429 (with the headers Discord sends, so discord.py retries them);
    ``force_rate_limits`` makes the next N calls 429 for deterministic tests;
    ``error_probability`` the share answered 503 (Discord having a bad day).
    """

    def __init__(
        self,
        bot_user: dict[str, Any],
        *,
        latency: Callable[[], float] = lambda: 0.0,
        rate_limit_probability: float = 0.0,
        retry_after: float = 0.05,
        rng: random.Random | None = None,
    ) -> None:
        self.bot_user = bot_user
        self.application_id = payloads.snowflake()
        self.latency = latency
        self.rate_limit_probability = rate_limit_probability
        self.retry_after = retry_after
        self.force_rate_limits = 0
        self.error_probability = 0.0
        self._rng = rng or random.Random()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get(f"{API}/users/@me", self._me)
        app.router.add_get(f"{API}/oauth2/applications/@me", self._application)
        app.router.add_post(f"{API}/channels/{{channel_id}}/messages", self._send)
        app.router.add_post(f"{API}/channels/{{channel_id}}/typing", self._no_content)
        app.router.add_post(f"{API}/interactions/{{interaction_id}}/{{token}}/callback", self._ack)
        self.app = app

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        delay = self.latency()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.force_rate_limits > 0 or self._rng.random() < self.rate_limit_probability:
            self.force_rate_limits = max(0, self.force_rate_limits - 1)
            return self._rate_limited()
        if self.error_probability and self._rng.random() < self.error_probability:
            return _json({"message": "503: Service Unavailable", "code": 0}, status=503)
        response = await handler(request)
        response.headers.update(
            {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "4",
                "X-RateLimit-Reset-After": "1.0",
                "X-RateLimit-Bucket": f"demo-{request.method}-{request.match_info.route.resource}",
            }
        )
        return response

    def _rate_limited(self) -> web.Response:
        # discord.py only trusts a 429 that came through Discord's proxy (the Via header);
        # without it the answer looks like a Cloudflare ban and is raised, not retried.
        return _json(
            {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": False,
            },
            status=429,
            headers={
                "Via": "1.1 google",
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": str(self.retry_after),
                "Retry-After": str(self.retry_after),
            },
        )

    async def _me(self, _: web.Request) -> web.Response:
        return _json(self.bot_user)

    async def _application(self, _: web.Request) -> web.Response:
        return _json(
            {
                "id": self.application_id,
                "name": self.bot_user["username"],
                "icon": None,
                "description": "botwatch demo",
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": payloads.user("owner"),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _send(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        channel_id = request.match_info["channel_id"]
        data = payloads.message(
            body.get("content") or "", author=self.bot_user, channel_id=channel_id, guild_id=None
        )
        return _json(data)

    async def _ack(self, request: web.Request) -> web.Response:
        await request.read()
        return _json({"interaction": {"id": request.match_info["interaction_id"], "type": 2}})

    async def _no_content(self, _: web.Request) -> web.Response:
        return web.Response(status=204)

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()  # multipart: the JSON sits in the payload_json field
        raw = form.get("payload_json")
        return json.loads(raw) if isinstance(raw, str) else {}

    async def start(self, host: str = "127.0.0.1") -> str:
        """Serve on a free port; returns the base URL to put in ``Route.BASE``."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{port}{API}"
        return self.base_url

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
