"""Gateway and REST payloads shaped like Discord's, for driving discord.py offline.

They go into discord.py's own parsers (``ConnectionState.parsers``) and HTTP client,
so every object the demo bot sees is built by discord.py itself.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

# Snowflakes from 2026 onwards, increasing like real ones.
_ids = itertools.count(1_400_000_000_000_000_000)

ALL_PERMISSIONS = str((1 << 50) - 1)
MEMBER_PERMISSIONS = str(0x400 | 0x800 | 0x40)  # view channel, send messages, add reactions


def snowflake() -> str:
    """A new unique id."""
    return str(next(_ids))


def now() -> str:
    """ISO 8601 timestamp, as Discord sends them."""
    return datetime.now(UTC).isoformat()


def user(name: str, *, bot: bool = False, user_id: str | None = None) -> dict[str, Any]:
    """A user object."""
    return {
        "id": user_id or snowflake(),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
        "bot": bot,
    }


def member(u: dict[str, Any], *, roles: list[str] | None = None) -> dict[str, Any]:
    """A guild member object wrapping ``u``."""
    return {
        "user": u,
        "roles": roles or [],
        "joined_at": now(),
        "deaf": False,
        "mute": False,
        "flags": 0,
    }


def text_channel(guild_id: str, name: str) -> dict[str, Any]:
    """A guild text channel."""
    return {
        "id": snowflake(),
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "last_message_id": None,
    }


def guild(
    name: str, *, owner_id: str, members: list[dict[str, Any]], channels: list[str]
) -> dict[str, Any]:
    """A GUILD_CREATE payload: @everyone can talk, an Admin role can do anything."""
    gid = snowflake()
    everyone = {
        "id": gid,
        "name": "@everyone",
        "permissions": MEMBER_PERMISSIONS,
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
    }
    admin = dict(everyone, id=snowflake(), name="Admin", permissions=ALL_PERMISSIONS, position=1)
    return {
        "id": gid,
        "name": name,
        "owner_id": owner_id,
        "roles": [everyone, admin],
        "channels": [text_channel(gid, c) for c in channels],
        "members": members,
        "member_count": len(members),
        "emojis": [],
        "stickers": [],
        "features": [],
        "large": False,
        "unavailable": False,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "joined_at": now(),
        "voice_states": [],
        "presences": [],
        "threads": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    }


def ready(me: dict[str, Any], application_id: str, guild_ids: list[str]) -> dict[str, Any]:
    """A READY payload listing the guilds as unavailable, as Discord does."""
    return {
        "v": 10,
        "user": me,
        "guilds": [{"id": gid, "unavailable": True} for gid in guild_ids],
        "session_id": snowflake(),
        "resume_gateway_url": "wss://gateway.invalid",
        "application": {"id": application_id, "flags": 0},
        "private_channels": [],
        "relationships": [],
    }


def message(
    content: str, *, author: dict[str, Any], channel_id: str, guild_id: str | None
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload (also the body of a sent message)."""
    data: dict[str, Any] = {
        "id": snowflake(),
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
    }
    if guild_id is not None:
        data["guild_id"] = guild_id
        data["member"] = {"roles": [], "joined_at": now(), "deaf": False, "mute": False, "flags": 0}
    return data


def interaction(
    *,
    application_id: str,
    guild_id: str,
    channel: dict[str, Any],
    invoker: dict[str, Any],
    data: dict[str, Any],
    permissions: str = MEMBER_PERMISSIONS,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload of type application command."""
    return {
        "id": snowflake(),
        "application_id": application_id,
        "type": 2,
        "data": data,
        "guild_id": guild_id,
        "channel_id": channel["id"],
        "channel": channel,
        "member": dict(invoker, permissions=permissions),
        "token": "demo-" + snowflake(),
        "version": 1,
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": ALL_PERMISSIONS,
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id},
        "context": 0,
        "attachment_size_limit": 8_388_608,
    }


def slash_data(name: str, options: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``data`` of a chat-input command interaction."""
    return {"id": snowflake(), "name": name, "type": 1, "options": options or []}


def message_menu_data(name: str, target: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of a message context-menu interaction targeting ``target``."""
    return {
        "id": snowflake(),
        "name": name,
        "type": 3,
        "target_id": target["id"],
        "resolved": {"messages": {target["id"]: target}},
    }
