"""discord.py bots for the botwatch tests (a helper module, not a test file)."""

from __future__ import annotations

import discord
from discord.ext import commands
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families


def make_bot(cls: type[commands.Bot] = commands.Bot) -> commands.Bot:
    """A prefix `!` bot with the intents prefix commands need."""
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    # A short guild_ready_timeout: offline, every GUILD_CREATE follows READY at once.
    return cls(command_prefix="!", intents=intents, help_command=None, guild_ready_timeout=0.01)


def exemplars(registry: CollectorRegistry, histogram: str, **labels: str) -> list[dict[str, str]]:
    """The exemplar labels on a histogram's buckets for ``labels``, from the OpenMetrics text."""
    text = generate_latest(registry).decode()
    return [
        s.exemplar.labels
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == f"bot_{histogram}_bucket"
        and labels.items() <= s.labels.items()
        and s.exemplar is not None
    ]
