"""discord.py bots for the botwatch tests (a helper module, not a test file)."""

from __future__ import annotations

import discord
from discord.ext import commands


def make_bot(cls: type[commands.Bot] = commands.Bot) -> commands.Bot:
    """A prefix `!` bot with the intents prefix commands need."""
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    # A short guild_ready_timeout: offline, every GUILD_CREATE follows READY at once.
    return cls(command_prefix="!", intents=intents, help_command=None, guild_ready_timeout=0.01)
