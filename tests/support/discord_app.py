"""Slash commands through discord.py's own app-command tree, offline, with their replies recorded.

The demo's OfflineDiscord logs a real ``commands.Bot`` in against a local fake of Discord's API and
feeds it gateway payloads through discord.py's parsers; here INTERACTION_CREATE payloads from chosen
members (roles, permissions) go the same way, so ``bot.tree`` resolves, checks and runs the command
exactly as in production. The fake API also records what the bot answers: the interaction callback
(an immediate reply or a deferral) and follow-up messages.

    async with SlashCommands(bot) as discord_app:
        reply = await discord_app.run("botwatch", "status", member=discord_app.member("ana"))
        assert reply.ephemeral and "ready" in reply.embeds[0]["title"]
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord
from aiohttp import web
from botwatch.demo import payloads
from botwatch.demo.fakeapi import API, FakeDiscordAPI
from botwatch.demo.settings import DemoSettings
from botwatch.demo.traffic import OfflineDiscord

EPHEMERAL = 1 << 6  # Discord's message flag
OPTION_TYPES = {str: 3, int: 4, bool: 5}  # application command option types
DEFERRED = 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE


@dataclass
class Reply:
    """What the member sees: the message the bot answered with."""

    content: str
    embeds: list[dict[str, Any]]
    ephemeral: bool

    @property
    def text(self) -> str:
        """Content plus every embed's title, description, fields and footer, for assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
            parts.append(embed.get("footer", {}).get("text", ""))
        return "\n".join(part for part in parts if part)


class RecordingDiscordAPI(FakeDiscordAPI):
    """The demo's fake Discord API, also recording interaction answers and serving follow-ups."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: dict[str, list[dict[str, Any]]] = {}  # interaction token → bodies, in order
        self.app.router.add_post(f"{API}/webhooks/{{application_id}}/{{token}}", self._follow_up)

    async def _ack(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self.answers.setdefault(request.match_info["token"], []).append(body)
        return await super()._ack(request)

    async def _follow_up(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self.answers.setdefault(request.match_info["token"], []).append(body)
        message = payloads.message(
            body.get("content") or "", author=self.bot_user, channel_id="0", guild_id=None
        )
        return web.Response(body=json.dumps(message).encode(), content_type="application/json")


class SlashCommands:
    """A bot logged in to the offline Discord, and a way to run its slash commands as a member."""

    def __init__(self, bot: discord.Client) -> None:
        self.world = OfflineDiscord(bot, DemoSettings(rate_limit=0.0, seed=1))
        self.world.api = RecordingDiscordAPI(self.world.me, rng=self.world.rng)
        self.api: RecordingDiscordAPI = self.world.api

    async def __aenter__(self) -> SlashCommands:
        await self.world.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.world.close()

    @property
    def admin_role(self) -> dict[str, Any]:
        """The guild's "Admin" role (every permission)."""
        return self.world.guild["roles"][1]

    def member(
        self,
        name: str,
        *,
        roles: Sequence[dict[str, Any]] = (),
        permissions: str = payloads.MEMBER_PERMISSIONS,
    ) -> dict[str, Any]:
        """An interaction's ``member``: a new user with these roles and channel permissions."""
        data = payloads.member(payloads.user(name), roles=[role["id"] for role in roles])
        return {**data, "permissions": permissions}

    async def run(
        self,
        group: str,
        command: str,
        *,
        member: dict[str, Any],
        within: float = 15.0,
        **options: Any,
    ) -> Reply:
        """Run ``/group command option:value…`` as ``member``; the reply once it is sent."""
        subcommand = {
            "name": command,
            "type": 1,
            "options": [
                {"name": key, "type": OPTION_TYPES[type(value)], "value": value}
                for key, value in options.items()
            ],
        }
        data = payloads.interaction(
            application_id=self.world.application_id,
            guild_id=self.world.guild["id"],
            channel=self.world.channels[0],
            invoker=member,
            data=payloads.slash_data(group, [subcommand]),
            permissions=member["permissions"],
        )
        self.world._parse("INTERACTION_CREATE", data)
        return await self._reply(data["token"], within)

    async def _reply(self, token: str, within: float) -> Reply:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            for body in self.api.answers.get(token, []):
                if body.get("type") == DEFERRED:
                    continue  # "thinking…": the answer follows as a follow-up message
                message = body.get("data", body)  # a callback wraps it in "data"
                return Reply(
                    content=message.get("content") or "",
                    embeds=message.get("embeds") or [],
                    ephemeral=bool((message.get("flags") or 0) & EPHEMERAL),
                )
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no reply within {within}s; answers: {self.api.answers.get(token)}")
