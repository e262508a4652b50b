"""The demo bot: an ordinary discord.py bot with a realistic mix of commands and loops.

``Conditions`` is how the traffic simulator makes it misbehave (error bursts, slow
backends, a stalled loop); nothing here touches a metric directly.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

import discord
from discord import app_commands
from discord.ext import commands, tasks

import botwatch

from .settings import DemoSettings

log = logging.getLogger("demo.bot")


@dataclass
class Conditions:
    """What is going wrong right now."""

    error_rate: float = DemoSettings.error_rate
    slow_factor: float = 1.0
    backend_delay: float = 0.0
    failing_task: str | None = None
    hung_task: str | None = None


class BackendError(ConnectionError):
    """The simulated downstream service failed (an OSError: tasks loops retry those)."""


class DemoCog(commands.Cog):
    """Commands of every kind, and two background loops."""

    def __init__(self, bot: DemoBot) -> None:
        self.bot = bot
        self.rng = random.Random()

    async def cog_load(self) -> None:
        self.sync_stats.change_interval(seconds=DemoSettings.from_env().sync_every)
        self.refresh_cache.start()
        self.sync_stats.start()

    async def cog_unload(self) -> None:
        self.refresh_cache.cancel()
        self.sync_stats.cancel()

    async def _backend(self, name: str, base: float) -> None:
        """A downstream call: log-normal latency, fails at the current error rate.

        ``backend_delay`` is a saturated backend: every call waits about that long, however
        fast it normally is.
        """
        conditions = self.bot.conditions
        delay = self.rng.lognormvariate(0, 0.5) * base * conditions.slow_factor
        delay += self.rng.uniform(0.5, 1.5) * conditions.backend_delay
        with self.bot.obs.track(name):
            await asyncio.sleep(delay)
            if self.rng.random() < conditions.error_rate:
                raise BackendError(f"{name} answered 503")

    @commands.command()
    async def ping(self, ctx: commands.Context) -> None:
        """Fast and always fine."""
        await ctx.send("pong")

    @commands.command()
    async def roll(self, ctx: commands.Context, sides: int = 6) -> None:
        """Bad arguments (``!roll many``) are the user's error."""
        log.debug("rolling a d%s", sides)
        await ctx.send(str(self.rng.randint(1, max(sides, 1))))

    @commands.command()
    @commands.cooldown(1, 30.0, commands.BucketType.user)
    async def daily(self, ctx: commands.Context) -> None:
        """On cooldown for a user who asks twice."""
        await ctx.send("here is your daily reward")

    @commands.command()
    @commands.has_permissions(administrator=True)
    async def purge(self, ctx: commands.Context) -> None:
        """Only admins; others get a check failure."""
        log.warning("purge requested by an admin")
        await ctx.send("purged")

    @commands.command()
    async def search(self, ctx: commands.Context, *, query: str = "cats") -> None:
        """Slow: a search backend with a long tail."""
        async with ctx.typing():
            await self._backend("search.backend", 0.4)
        log.info("search finished", extra={"query_length": len(query)})
        await ctx.send(f"3 results for {query}")

    @commands.command()
    async def profile(self, ctx: commands.Context) -> None:
        """Reads a database that fails during error bursts."""
        await self._backend("db.query", 0.03)
        await ctx.send("your profile")

    @commands.hybrid_command()
    async def weather(self, ctx: commands.Context, city: str = "Paris") -> None:
        """Hybrid: works as ``!weather`` and ``/weather``."""
        await self._backend("weather.api", 0.15)
        await ctx.send(f"sunny in {city}")

    @app_commands.command(name="quote")
    async def quote(self, interaction: discord.Interaction) -> None:
        """Slash only."""
        await self._backend("quotes.api", 0.05)
        await interaction.response.send_message("be excellent to each other")

    @tasks.loop(seconds=15)
    async def refresh_cache(self) -> None:
        """A quick periodic job, which fails when the simulator says so."""
        if self.bot.conditions.failing_task == "refresh_cache":
            raise BackendError("cache backend unreachable")
        await asyncio.sleep(self.rng.uniform(0.01, 0.05))
        log.debug("cache refreshed")

    @tasks.loop(seconds=30)
    async def sync_stats(self) -> None:
        """A slower job that fails or hangs when the simulator says so."""
        if self.bot.conditions.failing_task == "sync_stats":
            raise BackendError("stats backend unreachable")
        # Polled: the drill switch is a plain attribute the simulator flips once a second.
        while self.bot.conditions.hung_task == "sync_stats":  # noqa: ASYNC110
            await asyncio.sleep(1.0)
        await asyncio.sleep(self.rng.uniform(0.1, 0.5))
        log.info("stats synced")

    @sync_stats.error
    async def _sync_failed(self, error: BaseException) -> None:
        log.error("sync_stats stopped", exc_info=error)


async def report_message(interaction: discord.Interaction, message: discord.Message) -> None:
    """A message context-menu command."""
    await interaction.response.send_message("reported", ephemeral=True)


class DemoBot(commands.Bot):
    """A prefix + slash bot with botwatch attached."""

    def __init__(self, obs: botwatch.Observability, *, intents: discord.Intents) -> None:
        super().__init__(command_prefix="!", intents=intents, help_command=None)
        self.obs = obs
        self.conditions = Conditions()

    async def setup_hook(self) -> None:
        await self.add_cog(DemoCog(self))
        self.tree.add_command(app_commands.ContextMenu(name="Report", callback=report_message))
        self.obs.instrument(self)  # after the cog: its loops and commands get series at once

    async def on_command_completion(self, ctx: commands.Context) -> None:
        log.info("command %s completed", ctx.command.qualified_name)

    async def on_app_command_completion(self, interaction: discord.Interaction, command) -> None:
        log.info("app command %s completed", command.qualified_name)

    async def on_message(self, message: discord.Message) -> None:
        log.debug("message received", extra={"length": len(message.content)})
        await self.process_commands(message)

    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        if isinstance(error, commands.CommandInvokeError):
            log.error("command %s failed", ctx.command, exc_info=error.original)
        elif not isinstance(error, commands.CommandNotFound):
            log.warning("command %s refused: %s", ctx.command, type(error).__name__)


def make_intents() -> discord.Intents:
    """Default intents plus message content, which prefix commands need."""
    intents = discord.Intents.default()
    intents.message_content = True
    return intents
