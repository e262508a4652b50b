"""``/botwatch`` slash commands inside the user's own bot: health, firing alerts, silences.

``obs.add_chatops(bot, alertmanager_urls=[...])`` adds one application-command group:

- ``/botwatch status`` — this bot's health from the library's live state (no Prometheus): readiness
  checks, event-loop lag, gateway latency per shard, commands per second and the error ratio
  against the SLO over the last five minutes;
- ``/botwatch alerts [page]`` — what is firing now, from Alertmanager, in pages that fit an embed;
- ``/botwatch silence <alert> <duration> [reason]`` / ``/botwatch unsilence <id>`` — create or
  expire a silence, ``createdBy`` the Discord user, each one logged as a JSON audit line.

Silencing takes a configured role or permission; everyone else gets an ephemeral refusal. Replies
are ephemeral unless ``ephemeral=False``. An Alertmanager that cannot be reached, or anything else
going wrong, becomes a clear reply: a command never raises into the bot.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import discord
from discord import app_commands
from discord.utils import escape_markdown

from .alertmanager import Alert, AlertmanagerClient, AlertmanagerRefused, AlertmanagerUnavailable
from .health import Health
from .loop import LoopLagMonitor, stop_task
from .metrics import Metrics

log = logging.getLogger("botwatch.chatops")

# Discord's limits (embed description 4096, 6000 characters per message): a page stays well under.
PAGE_CHARS = 3800
FIELD_CHARS = 1024  # an embed field's value
SUMMARY_CHARS = 300
VALUE_CHARS = 100
RATE_WINDOW = 300.0  # seconds: the SLO's short window (service:bot_command_errors:ratio_rate5m)
RATE_SAMPLE_EVERY = 10.0
MAX_SILENCE = timedelta(days=30)
DURATION_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
SEVERITY_ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
UNREACHABLE = (
    "⚠️ Alertmanager cannot be reached right now ({why}). Nothing was changed. Alerts still reach "
    "their channels if Alertmanager itself runs; check the stack (`make ps`)."
)


def parse_duration(text: str) -> timedelta | None:
    """``2h``, ``1h30m``, ``3d``, ``1w`` → a timedelta; None when malformed or zero."""
    match = DURATION_RE.match(text.strip().lower())
    if not match or not any(match.groups()):
        return None
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    delta = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return delta or None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(lines: list[str], empty: str) -> str:
    """Lines joined up to an embed field's limit, the rest counted: "…and 7 more"."""
    value = ""
    for shown, line in enumerate(lines):
        rest = f"\n…and {len(lines) - shown} more"
        if len(value) + 1 + len(line) + len(rest) > FIELD_CHARS:
            return value + rest
        value = f"{value}\n{line}" if value else line
    return value or empty


def _link(base: str | None, target: str) -> str | None:
    """An absolute link for an annotation that may be a path relative to ``base``."""
    if target.startswith(("http://", "https://")):
        return target
    if base and target:
        return f"{base.rstrip('/')}/{target.lstrip('/')}"
    return None


class CommandRate:
    """Commands per second and the error ratio over a sliding window, from the live counters."""

    def __init__(self, metrics: Metrics, window: float = RATE_WINDOW) -> None:
        self._metrics = metrics
        self._window = window
        self._samples: deque[tuple[float, float, float]] = deque()
        self._task: asyncio.Task[None] | None = None

    def totals(self) -> tuple[float, float]:
        """(commands, commands with status="error") counted since start."""
        total = errors = 0.0
        for family in self._metrics.commands.metric.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    total += sample.value
                    if sample.labels.get("status") == "error":
                        errors += sample.value
        return total, errors

    def sample(self) -> None:
        """Remember the totals now, forgetting samples older than the window."""
        now = time.monotonic()
        self._samples.append((now, *self.totals()))
        while len(self._samples) > 1 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()

    def current(self) -> tuple[float, float | None, float]:
        """(commands/s, error ratio or None without commands, seconds covered)."""
        self.sample()
        start, total0, errors0 = self._samples[0]
        now, total, errors = self._samples[-1]
        span = now - start
        count = total - total0
        rate = count / span if span > 0 else 0.0
        return rate, ((errors - errors0) / count if count else None), span

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(RATE_SAMPLE_EVERY)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="botwatch-chatops-rate"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)


class ChatOpsOptions(TypedDict, total=False):
    """The keyword arguments ``obs.add_chatops()`` passes on to :class:`ChatOps`."""

    silence_roles: Collection[int | str]
    silence_permissions: Collection[str]
    ephemeral: bool
    slo_objective: float
    grafana_url: str | None
    runbook_base_url: str | None


class ChatOps:
    """The ``/botwatch`` command group and what it reads; made by ``obs.add_chatops()``."""

    def __init__(
        self,
        bot: discord.Client,
        client: AlertmanagerClient,
        *,
        service: str,
        health: Health,
        lag: LoopLagMonitor,
        metrics: Metrics,
        silence_roles: Collection[int | str] = (),
        silence_permissions: Collection[str] = ("manage_guild",),
        ephemeral: bool = True,
        slo_objective: float = 0.995,
        grafana_url: str | None = None,
        runbook_base_url: str | None = None,
    ) -> None:
        unknown = set(silence_permissions) - set(discord.Permissions.VALID_FLAGS)
        if unknown:
            raise ValueError(f"unknown Discord permission(s): {', '.join(sorted(unknown))}")
        if not 0 < slo_objective < 1:
            raise ValueError("slo_objective must be between 0 and 1, e.g. 0.995")
        self.bot = bot
        self.client = client
        self.service = service
        self.health = health
        self.lag = lag
        self.rate = CommandRate(metrics)
        self.silence_roles = {str(role) for role in silence_roles}
        self.silence_permissions = tuple(silence_permissions)
        self.ephemeral = ephemeral
        self.slo_objective = slo_objective
        self.grafana_url = grafana_url
        self.runbook_base_url = runbook_base_url
        self.group = BotwatchCommands(self)

    def start(self) -> None:
        """Start sampling the command counters (for the rates in ``status``)."""
        self.rate.start()

    async def close(self) -> None:
        await self.rate.stop()
        await self.client.close()

    # -- permissions ----------------------------------------------------------------------
    def may_silence(self, interaction: discord.Interaction) -> bool:
        """A guild member with one of the roles (id or name) or one of the permissions."""
        member = interaction.user
        if not isinstance(member, discord.Member):
            return False
        if any({str(role.id), role.name} & self.silence_roles for role in member.roles):
            return True
        permissions = interaction.permissions
        return any(getattr(permissions, name) for name in self.silence_permissions)

    def _who_may(self) -> str:
        rules = [f"the {name} role" for name in sorted(self.silence_roles)]
        rules += [
            f"the {name.replace('_', ' ').title()} permission" for name in self.silence_permissions
        ]
        return " or ".join(rules) or "nobody (no role or permission is configured)"

    # -- replies --------------------------------------------------------------------------
    async def reply(
        self,
        interaction: discord.Interaction,
        content: str | None = None,
        *,
        embed: discord.Embed | None = None,
        private: bool = False,
    ) -> None:
        """Answer once, or follow up a deferred answer; a failure to answer is only logged."""
        ephemeral = private or self.ephemeral
        try:
            if interaction.response.is_done():
                await interaction.followup.send(
                    content or discord.utils.MISSING,
                    embed=embed or discord.utils.MISSING,
                    ephemeral=ephemeral,
                )
            else:
                await interaction.response.send_message(content, embed=embed, ephemeral=ephemeral)
        except discord.HTTPException:
            log.exception("could not answer a /botwatch command")

    async def guarded(
        self, interaction: discord.Interaction, work: Callable[[], Awaitable[None]]
    ) -> None:
        """Run a command body: Alertmanager trouble and bugs become replies, never exceptions."""
        try:
            await work()
        except AlertmanagerUnavailable as exc:
            log.warning("Alertmanager unreachable for /botwatch: %s", exc)
            await self.reply(interaction, UNREACHABLE.format(why=exc), private=True)
        except AlertmanagerRefused as exc:
            await self.reply(
                interaction, f"⚠️ Alertmanager refused the request ({exc}).", private=True
            )
        except Exception:
            log.exception("/botwatch command failed")
            await self.reply(
                interaction, "⚠️ That did not work; the bot's logs have the details.", private=True
            )

    # -- status ---------------------------------------------------------------------------
    def status_embed(self) -> discord.Embed:
        results = self.health.results
        ready = bool(results) and all(result.ok for result in results.values())
        embed = discord.Embed(
            title=f"{self.service}: {'ready ✅' if ready else 'not ready ❌'}",
            colour=discord.Colour.green() if ready else discord.Colour.red(),
        )
        checks = [
            f"{'✅' if result.ok else '❌'} {escape_markdown(name)}"
            + ("" if result.ok else f" — {escape_markdown(_cut(result.error or '', VALUE_CHARS))}")
            for name, result in results.items()
        ]
        embed.add_field(name="Checks", value=_field(checks, "none yet"), inline=False)
        embed.add_field(name="Event loop lag", value=f"{self.lag.last * 1000:.0f} ms")
        embed.add_field(name="Gateway", value=self._gateway(), inline=False)
        rate, ratio, span = self.rate.current()
        covered = f"{span / 60:.0f} min" if span >= 60 else f"{span:.0f} s"
        embed.add_field(name=f"Commands (last {covered})", value=f"{rate:.2f}/s")
        budget = 1 - self.slo_objective
        if ratio is None:
            errors = f"no commands (SLO {self.slo_objective:.1%} succeed)"
        else:
            errors = (
                f"{ratio:.2%} errors; SLO {self.slo_objective:.1%} succeed → burning the "
                f"error budget at {ratio / budget:.1f}×"
            )
        embed.add_field(name="Error ratio", value=errors, inline=False)
        return embed

    def _gateway(self) -> str:
        bot = self.bot
        if isinstance(bot, discord.AutoShardedClient):
            shards = [(i, not s.is_closed(), s.latency) for i, s in sorted(bot.shards.items())]
        else:
            shards = [(bot.shard_id or 0, not bot.is_closed(), bot.latency)]
        lines = []
        for shard, connected, latency in shards:
            # discord.py reports inf (or nan) before the first heartbeat is acknowledged.
            latency_text = f"{latency * 1000:.0f} ms" if math.isfinite(latency) else "–"
            state = "connected" if connected else "disconnected"
            lines.append(f"shard {shard}: {state}, {latency_text}")
        return _field(lines, "no shard")

    # -- alerts ---------------------------------------------------------------------------
    def _alert_block(self, alert: Alert) -> str:
        icon = SEVERITY_ICONS.get(alert.severity, "⚪")
        where = alert.labels.get("service") or alert.labels.get("instance") or ""
        head = f"{icon} **{escape_markdown(_cut(alert.name, VALUE_CHARS))}**"
        head += f" · {escape_markdown(alert.severity or 'no severity')}"
        if where:
            head += f" · {escape_markdown(_cut(where, VALUE_CHARS))}"
        summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
        links = [f"since <t:{int(alert.starts_at.timestamp())}:R>"]
        for text, url in (
            ("runbook", _link(self.runbook_base_url, alert.annotations.get("runbook_url", ""))),
            ("dashboard", _link(self.grafana_url, alert.annotations.get("dashboard_url", ""))),
            ("source", _link(None, alert.generator_url)),
        ):
            if url:
                links.append(f"[{text}]({_cut(url, 400)})")
        lines = [head, escape_markdown(_cut(summary, SUMMARY_CHARS)), " · ".join(links)]
        return "\n".join(line for line in lines if line)

    def alert_pages(self, alerts: list[Alert]) -> list[str]:
        """The alerts' blocks packed into descriptions of at most PAGE_CHARS characters."""
        pages: list[str] = []
        current = ""
        for alert in alerts:
            block = self._alert_block(alert)
            if current and len(current) + 2 + len(block) > PAGE_CHARS:
                pages.append(current)
                current = block
            else:
                current = f"{current}\n\n{block}" if current else block
        if current:
            pages.append(current)
        return pages

    async def alerts(self, interaction: discord.Interaction, page: int) -> None:
        await interaction.response.defer(ephemeral=self.ephemeral, thinking=True)
        firing = await self.client.firing()
        if not firing:
            await self.reply(
                interaction, "✅ Nothing is firing (silenced and inhibited alerts are not shown)."
            )
            return
        pages = self.alert_pages(firing)
        page = min(max(page, 1), len(pages))
        embed = discord.Embed(
            title=f"Firing: {len(firing)} alert{'s' * (len(firing) != 1)}"
            + (f" (page {page}/{len(pages)})" if len(pages) > 1 else ""),
            description=pages[page - 1],
            colour=discord.Colour.red(),
        )
        if page < len(pages):
            embed.set_footer(text=f"More: /botwatch alerts page:{page + 1}")
        await self.reply(interaction, embed=embed)

    # -- silences -------------------------------------------------------------------------
    async def refuse(self, interaction: discord.Interaction, action: str) -> None:
        user = interaction.user
        log.warning(
            "refused a /botwatch %s",
            action,
            extra={
                "audit": f"{action}.refused",
                "discord_user_id": str(user.id),
                "discord_user": str(user),
            },
        )
        await self.reply(
            interaction,
            f"⛔ You may not {action} alerts here: that takes {self._who_may()}.",
            private=True,
        )

    async def silence(
        self, interaction: discord.Interaction, alert: str, duration: str, reason: str | None
    ) -> None:
        if not self.may_silence(interaction):
            await self.refuse(interaction, "silence")
            return
        length = parse_duration(duration)
        if length is None or length > MAX_SILENCE:
            await self.reply(
                interaction,
                f"⚠️ `{escape_markdown(_cut(duration, 20))}` is not a duration from 1m to 30d "
                "(e.g. 30m, 2h, 1d12h).",
                private=True,
            )
            return
        await interaction.response.defer(ephemeral=self.ephemeral, thinking=True)
        user = interaction.user
        ends_at = datetime.now(UTC) + length
        comment = reason or "Silenced from Discord with /botwatch silence."
        silence_id, url = await self.client.create_silence(
            {"alertname": alert},
            ends_at=ends_at,
            created_by=f"{user} (discord:{user.id})",
            comment=comment,
        )
        log.info(
            "silence created from Discord",
            extra={
                "audit": "silence.create",
                "silence_id": silence_id,
                "alertname": alert,
                "duration_seconds": int(length.total_seconds()),
                "ends_at": ends_at.isoformat(timespec="seconds"),
                "reason": comment,
                "discord_user_id": str(user.id),
                "discord_user": str(user),
                "guild_id": str(interaction.guild_id),
                "alertmanager": url,
            },
        )
        await self.reply(
            interaction,
            f"🔕 Silenced `{escape_markdown(alert)}` until <t:{int(ends_at.timestamp())}:f> "
            f"(silence `{silence_id}`). Undo: `/botwatch unsilence id:{silence_id}`",
        )

    async def unsilence(self, interaction: discord.Interaction, silence_id: str) -> None:
        if not self.may_silence(interaction):
            await self.refuse(interaction, "unsilence")
            return
        await interaction.response.defer(ephemeral=self.ephemeral, thinking=True)
        user = interaction.user
        try:
            url = await self.client.expire_silence(silence_id.strip())
        except AlertmanagerRefused as exc:
            if exc.status not in (400, 404):
                raise
            await self.reply(
                interaction, f"⚠️ No active silence `{escape_markdown(silence_id)}`.", private=True
            )
            return
        log.info(
            "silence expired from Discord",
            extra={
                "audit": "silence.expire",
                "silence_id": silence_id,
                "discord_user_id": str(user.id),
                "discord_user": str(user),
                "guild_id": str(interaction.guild_id),
                "alertmanager": url,
            },
        )
        await self.reply(interaction, f"🔔 Silence `{escape_markdown(silence_id)}` expired.")


class BotwatchCommands(app_commands.Group):
    """``/botwatch``: the commands, each a thin call into :class:`ChatOps`."""

    def __init__(self, ops: ChatOps) -> None:
        super().__init__(name="botwatch", description="This bot's health and alerts (Botwatch)")
        self.ops = ops

    @app_commands.command(description="This bot's health: checks, latency, commands and errors")
    async def status(self, interaction: discord.Interaction) -> None:
        async def work() -> None:
            await self.ops.reply(interaction, embed=self.ops.status_embed())

        await self.ops.guarded(interaction, work)

    @app_commands.command(description="Alerts firing now (from Alertmanager)")
    @app_commands.describe(page="Page to show when there are many")
    async def alerts(self, interaction: discord.Interaction, page: int = 1) -> None:
        await self.ops.guarded(interaction, lambda: self.ops.alerts(interaction, page))

    @app_commands.command(description="Silence an alert in Alertmanager")
    @app_commands.describe(
        alert="Alert name, e.g. BotCommandsSlow",
        duration="How long: 30m, 2h, 1d…",
        reason="Why (shown in Alertmanager)",
    )
    async def silence(
        self,
        interaction: discord.Interaction,
        alert: app_commands.Range[str, 1, 200],
        duration: app_commands.Range[str, 1, 20],
        reason: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        await self.ops.guarded(
            interaction, lambda: self.ops.silence(interaction, alert, duration, reason)
        )

    @app_commands.command(description="Expire an Alertmanager silence")
    @app_commands.describe(id="The silence id /botwatch silence answered with")
    async def unsilence(
        self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 64]
    ) -> None:
        await self.ops.guarded(interaction, lambda: self.ops.unsilence(interaction, id))
