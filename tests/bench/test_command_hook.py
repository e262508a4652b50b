"""Benchmark: what botwatch costs per command (issue 11).

- hook vs floor: the whole per-command hook (correlation scope, invocation,
  classification, recording), entered where discord.py enters it (``bot.invoke`` for
  prefix and hybrid commands, ``tree._call`` for slash commands), around a body that does
  nothing, vs. the floor: awaiting the same body and doing prometheus-client's inc +
  observe on children bound by hand. Target ≤ 1.3×.
- OTel off (issue 14): the hook botwatch.setup() installs with OTEL_EXPORTER_OTLP_ENDPOINT unset
  vs. the same hook built with no tracing code at all (DiscordInstrumentation without a command
  scope). Target ≤ 1.02×: the optional OpenTelemetry spans cost nothing when off.
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
from botwatch.discord import DiscordInstrumentation
from botwatch.metrics import COMMAND_BUCKETS
from discord import app_commands
from discord.ext import commands
from prometheus_client import CollectorRegistry, Counter, Histogram

from tests.bench.bots import dpytest_bot, message_create
from tests.support.bench import Ratio, Row, side_by_side_async

N = 20_000
FLOOR = "awaiting the body + bare prometheus-client inc + observe"
NO_TRACING = "the same hook wired with no tracing code"
OTEL_OFF_N, OTEL_OFF_REPEATS = 2_000, 101


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


async def _per_command(call: Callable, args: list, n: int = N) -> float:
    """CPU seconds per command through ``call`` (a hooked bot.invoke or tree._call).

    CPU time of this thread: all of it is synchronous work here, and on a shared machine wall
    time mostly adds the time the process waited for a core.
    """
    for arg in args:  # each gateway interaction is a new object: its command lookup is paid
        with contextlib.suppress(AttributeError):
            del arg._cs_command  # discord.py's cache of Interaction.command
    started = time.thread_time()
    for i in range(n):
        await call(args[i % len(args)])
    return (time.thread_time() - started) / n


async def _hook_vs_floor(call: Callable, args: list, body: Callable) -> tuple[float, float]:
    c_child, h_child = _floor_children()

    async def hooked() -> float:
        return await _per_command(call, args)

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


async def _body(_: object) -> None:
    return None


def _hooked_bot(instrument: Callable[[commands.Bot], None]) -> commands.Bot:
    """A bot whose bot.invoke and tree._call are stand-ins for discord.py's own work (doing
    nothing), set before ``instrument`` so botwatch's hooks wrap them exactly as they wrap the
    real ones."""
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    bot.invoke = _body
    bot.tree._call = _body
    bot.tree.add_command(app_commands.Command(name="ping", description="p", callback=_body))
    instrument(bot)
    return bot


def _commands(bot: commands.Bot, n: int = N) -> tuple[list, list]:
    """(contexts, interactions): a prefix command's Context and n slash interactions of `ping`."""
    contexts = [SimpleNamespace(command=commands.Command(_body, name="ping"), command_failed=False)]
    interactions = [
        discord.Interaction(data=_interaction_payload("ping"), state=bot._connection)
        for _ in range(n)
    ]
    return contexts, interactions


def _setup() -> botwatch.Observability:
    return botwatch.setup(
        service="bench", registry=CollectorRegistry(), port=0, configure_logging=False
    )


def test_hook_vs_floor(bench):
    """The whole per-command hook costs ≤ 1.3× the floor, for prefix and slash commands."""
    bot = _hooked_bot(_setup().instrument)
    contexts, interactions = _commands(bot)
    prefix = asyncio.run(_hook_vs_floor(bot.invoke, contexts, _body))
    slash = asyncio.run(_hook_vs_floor(bot.tree._call, interactions, _body))
    bench.check(
        Row("command hook, prefix", *prefix, FLOOR, "s", Ratio(1.3)),
        Row("command hook, slash", *slash, FLOOR, "s", Ratio(1.3)),
    )


def test_hook_with_opentelemetry_off(monkeypatch, bench):
    """With OTEL_EXPORTER_OTLP_ENDPOINT unset, the hook botwatch.setup() installs costs ≤ 1.02×
    the same hook wired with no tracing code at all (no command scope, no trace id source)."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    obs = _setup()
    assert obs.tracing is None and obs.sentry is None
    ours = _hooked_bot(obs.instrument)
    plain = _setup()  # its metrics, health and tasks, under a hook built without any tracing
    bare = _hooked_bot(
        DiscordInstrumentation(plain.metrics, plain.errors, plain.health, plain.tasks).instrument
    )
    rows = []
    for kind in ("prefix", "slash"):
        calls = []
        for bot in (ours, bare):
            contexts, interactions = _commands(bot, OTEL_OFF_N)
            if kind == "prefix":
                call, args = bot.invoke, contexts
            else:
                call, args = bot.tree._call, interactions
            calls.append(lambda call=call, args=args: _per_command(call, args, OTEL_OFF_N))
        # Hundreds of short runs, alternated: a 2 % target needs a steadier median.
        measured = asyncio.run(side_by_side_async(*calls, OTEL_OFF_REPEATS, mirrored=True))
        rows.append(Row(f"command hook, OTel off, {kind}", *measured, NO_TRACING, "s", Ratio(1.02)))
    bench.check(*rows)


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
