"""Benchmark: what botwatch costs per command (issue 11).

- hook vs floor: the whole per-command hook (correlation scope, invocation,
  classification, recording), entered where discord.py enters it (``bot.invoke`` for
  prefix and hybrid commands, ``tree._call`` for slash commands), around a body that does
  nothing, vs. the floor: awaiting the same body and doing prometheus-client's inc +
  observe on children bound by hand. Target ≤ 1.3×.
- vs discord-ext-prometheus: the same simulated commands through the same bot — prefix
  commands as messages through dpytest, slash commands through the gateway's
  interaction path (``parse_interaction_create``: the ``interaction`` event, then the
  tree's task) — instrumented by botwatch or by discord-ext-prometheus's cog. Theirs
  only counts commands; ours counts, times, classifies and scopes them. Target ≤ 1.05×.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import SimpleNamespace

import botwatch
import discord
import discord.ext.test as dpytest
from botwatch.metrics import COMMAND_BUCKETS
from discord import app_commands
from discord.ext import commands
from prometheus_client import CollectorRegistry, Counter, Histogram

from tests.bench.bots import dpytest_bot, message_create
from tests.support.bench import Ratio, Row, side_by_side_async

N = 20_000
FLOOR = "awaiting the body + bare prometheus-client inc + observe"


def _interaction_payload(name: str) -> dict:
    """A slash-command INTERACTION_CREATE payload for ``name``, as the gateway delivers it."""
    return {
        "id": "1",
        "application_id": "2",
        "type": 2,
        "token": "t",
        "version": 1,
        "channel_id": "3",
        "data": {"id": "4", "name": name, "type": 1},
        "locale": "en-US",
        "attachment_size_limit": 8388608,
        "entitlements": [],
        "authorizing_integration_owners": {},
    }


def _floor_children():
    registry = CollectorRegistry()
    counter = Counter("f_commands", "c", ("command", "status"), registry=registry)
    histogram = Histogram(
        "f_duration_seconds", "h", ("command",), buckets=COMMAND_BUCKETS, registry=registry
    )
    return counter.labels("ping", "success"), histogram.labels("ping")


async def _hook_vs_floor(call: Callable, args: list, body: Callable) -> tuple[float, float]:
    c_child, h_child = _floor_children()

    def fresh() -> None:
        for arg in args:
            with contextlib.suppress(AttributeError):
                del arg._cs_command  # discord.py's cache of Interaction.command

    # CPU time of this thread: all of it is synchronous work here, and on a shared machine
    # wall time mostly adds the time the process waited for a core.
    async def hooked() -> float:
        fresh()  # each gateway interaction is a new object: its command lookup is paid
        started = time.thread_time()
        for i in range(N):
            await call(args[i % len(args)])
        return (time.thread_time() - started) / N

    async def floor() -> float:
        started = time.thread_time()
        for i in range(N):
            arg = args[i % len(args)]
            t = time.perf_counter()
            await body(arg)
            c_child.inc()
            h_child.observe(time.perf_counter() - t)
        return (time.thread_time() - started) / N

    return await side_by_side_async(hooked, floor)


def test_hook_vs_floor(bench):
    """The whole per-command hook costs ≤ 1.3× the floor, for prefix and slash commands."""
    obs = botwatch.setup(
        service="bench", registry=CollectorRegistry(), port=0, configure_logging=False
    )
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())

    async def body(_: object) -> None:
        return None

    # Stand-ins for discord.py's own work, set before instrument() so botwatch's hooks
    # wrap them exactly as they wrap the real bot.invoke and tree._call.
    bot.invoke = body
    bot.tree._call = body
    bot.tree.add_command(app_commands.Command(name="ping", description="p", callback=body))
    obs.instrument(bot)
    contexts = [SimpleNamespace(command=commands.Command(body, name="ping"), command_failed=False)]
    interactions = [
        discord.Interaction(data=_interaction_payload("ping"), state=bot._connection)
        for _ in range(N)
    ]
    prefix = asyncio.run(_hook_vs_floor(bot.invoke, contexts, body))
    slash = asyncio.run(_hook_vs_floor(bot.tree._call, interactions, body))
    bench.check(
        Row("command hook, prefix", *prefix, FLOOR, "s", Ratio(1.3)),
        Row("command hook, slash", *slash, FLOOR, "s", Ratio(1.3)),
    )


# -- the same bot, instrumented by botwatch or by discord-ext-prometheus --------------------
class _Commands(commands.Cog):
    ran = 0  # commands that reached their body, so a run that missed them cannot pass

    @commands.command()
    async def ping(self, ctx: commands.Context) -> None:
        _Commands.ran += 1

    @app_commands.command(name="pong", description="p")
    async def pong(self, interaction: discord.Interaction) -> None:
        _Commands.ran += 1


async def _bot(instrumented_by: str) -> commands.Bot:
    bot = await dpytest_bot(_Commands())
    if instrumented_by == "botwatch":
        obs = botwatch.setup(
            service="bench", registry=CollectorRegistry(), port=0, configure_logging=False
        )
        obs.instrument(bot)
    else:
        from discord.ext.prometheus import PrometheusCog

        await bot.add_cog(PrometheusCog(bot, port=0))
    return bot


async def _drain() -> None:
    """Run every task the commands left (listeners, the tree's invoker) to completion."""
    me = asyncio.current_task()
    while tasks := [t for t in asyncio.all_tasks() if t is not me and not t.done()]:
        pending = [t for t in tasks if "latency_loop" not in repr(t)]
        if not pending:
            return
        await asyncio.gather(*pending, return_exceptions=True)


def _member_payload(member: discord.Member) -> dict:
    user = {"id": str(member.id), "username": member.name, "avatar": None, "discriminator": "0"}
    return {"user": user, "roles": [], "joined_at": None, "deaf": False, "mute": False, "flags": 0}


async def _through_the_bot(kind: str, n: int) -> tuple[float, float]:
    bots = {who: await _bot(who) for who in ("botwatch", "discord-ext-prometheus")}

    def timed(bot: commands.Bot) -> Callable:
        async def run() -> float:
            message = message_create(bot, "!ping")  # configures dpytest for this bot
            config = dpytest.get_config()
            state = bot._connection
            state._command_tree = bot.tree  # dpytest's state replaced the one the tree joined
            payload = _interaction_payload("pong") | {
                "guild_id": str(config.guilds[0].id),
                "member": _member_payload(config.members[0]),
            }
            command = (
                message if kind == "prefix" else lambda: state.parse_interaction_create(payload)
            )
            ran = _Commands.ran
            started = time.perf_counter()
            for _ in range(n):
                command()
                await _drain()
            elapsed = (time.perf_counter() - started) / n
            assert _Commands.ran - ran == n, "every simulated command ran"
            return elapsed

        return run

    return await side_by_side_async(
        timed(bots["botwatch"]), timed(bots["discord-ext-prometheus"]), repeats=7
    )


def test_vs_discord_ext_prometheus(bench):
    """The same commands through the same bot cost no more with botwatch than with its cog."""
    theirs = "discord-ext-prometheus 0.2.1 (counts only)"
    bench.check(
        Row(
            "vs discord-ext-prometheus, prefix (dpytest)",
            *asyncio.run(_through_the_bot("prefix", 2_000)),
            theirs,
            "s",
            Ratio(1.05),
        ),
        Row(
            "vs discord-ext-prometheus, slash (gateway path)",
            *asyncio.run(_through_the_bot("slash", 2_000)),
            theirs,
            "s",
            Ratio(1.05),
        ),
    )
