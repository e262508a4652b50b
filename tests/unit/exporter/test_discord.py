"""Tests of botwatch.discord with discord.py's real machinery, offline.

Prefix commands run through dpytest; slash, hybrid-as-slash and context-menu commands,
gateway events and REST calls run through the demo's offline Discord (discord.py's own
parsers and HTTP client against a local fake of Discord's API).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
import discord.ext.test as dpytest
import pytest
from botwatch.demo.settings import DemoSettings
from botwatch.demo.traffic import OfflineDiscord
from botwatch.discord import classify
from discord import app_commands
from discord.ext import commands, tasks

from tests.unit.exporter.bots import exemplars, make_bot

log = logging.getLogger("probe")


class Probe(commands.Cog):
    """Commands with every outcome."""

    @commands.command()
    async def ok(self, ctx: commands.Context) -> None:
        log.info("inside ok")
        logging.getLogger("some.library").warning("library line")
        await ctx.send("fine")

    @commands.command()
    async def boom(self, ctx: commands.Context) -> None:
        raise ValueError("bug in the bot")

    @commands.command()
    async def stop(self, ctx: commands.Context) -> None:
        raise asyncio.CancelledError  # what an awaited call raises when the bot shuts down

    @commands.command()
    async def number(self, ctx: commands.Context, n: int) -> None:
        await ctx.send(str(n))

    @commands.command()
    @commands.cooldown(1, 60.0, commands.BucketType.user)
    async def daily(self, ctx: commands.Context) -> None:
        await ctx.send("reward")

    @commands.command()
    @commands.has_permissions(administrator=True)
    async def admin(self, ctx: commands.Context) -> None:
        await ctx.send("done")

    @commands.hybrid_command()
    async def hybrid(self, ctx: commands.Context, fail: str = "no") -> None:
        if fail == "yes":
            raise KeyError("hybrid bug")
        await ctx.send("hybrid ok")

    @app_commands.command()
    async def slash(self, interaction: discord.Interaction, fail: str = "no") -> None:
        if fail == "yes":
            raise ZeroDivisionError("slash bug")
        if fail == "cancel":
            raise asyncio.CancelledError
        await interaction.response.send_message("slash ok")

    @app_commands.command()
    @app_commands.checks.has_permissions(administrator=True)
    async def guarded(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("guarded ok")

    @tasks.loop(seconds=0.01)
    async def beat(self) -> None:
        pass


async def _report(interaction: discord.Interaction, message: discord.Message) -> None:
    await interaction.response.send_message("reported", ephemeral=True)


@pytest.fixture
async def dbot(dpytest_bot, obs):
    """A dpytest-driven bot with the Probe commands."""
    return await dpytest_bot(Probe(), obs)


@pytest.fixture
async def offline(obs, monkeypatch):
    """A commands.Bot logged in to the local fake Discord, with a guild and members."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    bot = make_bot()
    await bot.add_cog(Probe())
    bot.tree.add_command(app_commands.ContextMenu(name="Report", callback=_report))
    obs.instrument(bot)
    world = OfflineDiscord(bot, DemoSettings(rate_limit=0.0, seed=1))
    await world.connect()
    yield world
    await world.close()


class TestPrefixCommands:
    async def test_a_successful_command_is_counted_and_timed(self, dbot, value):
        """`!ok` adds one success and one duration observation for `ok`."""
        await dpytest.message("!ok")
        assert value("bot_commands_total", command="ok", status="success") == 1
        assert value("bot_command_duration_seconds_count", command="ok") == 1

    async def test_an_exception_in_the_body_is_an_error_with_its_type(self, dbot, value):
        """An exception raised by the command body counts as `error` under its own class name."""
        with pytest.raises(commands.CommandInvokeError):
            await dpytest.message("!boom")
        assert value("bot_commands_total", command="boom", status="error") == 1
        assert value("bot_command_errors_total", command="boom", error_type="ValueError") == 1

    async def test_a_cancelled_command_is_cancelled_not_a_users_mistake(self, dbot, value):
        """A prefix command cancelled mid-way (discord.py swallows it) counts as `cancelled`."""
        await dpytest.message("!stop")
        assert value("bot_commands_total", command="stop", status="cancelled") == 1
        assert value("bot_commands_total", command="stop", status="user_error") == 0

    @pytest.mark.parametrize(
        ("content", "exception", "command"),
        [
            ("!number many", commands.BadArgument, "number"),
            ("!admin", commands.MissingPermissions, "admin"),
        ],
    )
    async def test_the_users_mistakes_are_user_errors(
        self, dbot, value, content, exception, command
    ):
        """A bad argument or a missing permission counts as `user_error`, never `error`."""
        with pytest.raises(exception):
            await dpytest.message(content)
        assert value("bot_commands_total", command=command, status="user_error") == 1
        assert value("bot_commands_total", command=command, status="error") == 0

    async def test_a_cooldown_is_a_user_error(self, dbot, value):
        """The second `!daily` within the cooldown counts as `user_error`."""
        await dpytest.message("!daily")
        with pytest.raises(commands.CommandOnCooldown):
            await dpytest.message("!daily")
        assert value("bot_commands_total", command="daily", status="success") == 1
        assert value("bot_commands_total", command="daily", status="user_error") == 1

    async def test_unknown_commands_create_no_series(self, dbot, registry):
        """`!nope` is not a command, so no commands_total series is created for it."""
        with pytest.raises(commands.CommandNotFound):
            await dpytest.message("!nope")
        text = [s.labels.get("command") for m in registry.collect() for s in m.samples]
        assert "nope" not in text

    async def test_known_commands_exist_before_first_use(self, dbot, registry):
        """Every registered command has its status series at zero right after instrument()."""
        sample = registry.get_sample_value(
            "bot_commands_total", {"command": "admin", "status": "error"}
        )
        assert sample == 0

    async def test_log_lines_inside_a_command_carry_its_correlation_id(self, dbot, logs):
        """Lines logged by the command and by a library during it share one correlation id."""
        await dpytest.message("!ok")
        ours, library = logs.find("inside ok"), logs.find("library line")
        assert ours["command"] == library["command"] == "ok"
        assert ours["correlation_id"] == library["correlation_id"]
        assert len(ours["correlation_id"]) == 16

    async def test_the_duration_exemplar_carries_the_correlation_id(self, dbot, logs, registry):
        """The command's duration bucket gets an exemplar with the id its log lines carry."""
        await dpytest.message("!ok")
        cid = logs.find("inside ok")["correlation_id"]
        assert exemplars(registry, "command_duration_seconds", command="ok") == [
            {"correlation_id": cid}
        ]

    async def test_each_command_gets_a_new_correlation_id(self, dbot, logs):
        """Two invocations of the same command log two different correlation ids."""
        await dpytest.message("!ok")
        await dpytest.message("!ok")
        ids = {r["correlation_id"] for r in logs.records() if r["message"] == "inside ok"}
        assert len(ids) == 2


class TestCommandScopes:
    """The correlation scope is set once in the command's task and never reset (issue 11)."""

    @pytest.fixture
    def invoked(self, obs):
        """``(bot, seen)``: a bot whose invoke records each command's ``current_ids()``."""
        from botwatch import context

        bot = make_bot()
        seen: list[tuple[str | None, str | None]] = []

        async def body(ctx) -> None:
            seen.append(context.current_ids())
            if ctx.inner is not None:
                await bot.invoke(ctx.inner)
                seen.append(context.current_ids())

        bot.invoke = body  # discord.py's invocation stands aside: only the hook runs
        obs.instrument(bot)
        return bot, seen

    @staticmethod
    def _ctx(name: str, inner=None):
        async def callback(_) -> None:
            return None

        command = commands.Command(callback, name=name)
        return type("Ctx", (), {"command": command, "command_failed": False, "inner": inner})()

    async def test_commands_run_one_after_another_in_one_task_get_new_ids(self, invoked):
        """A caller invoking commands in a loop of its own gets a new correlation id for each."""
        bot, seen = invoked
        for _ in range(3):
            await bot.invoke(self._ctx("ping"))
        assert len({cid for cid, _ in seen}) == 3

    async def test_a_command_takes_over_its_message_scope(self, invoked):
        """Inside a message's scope, the command logs with the message's id."""
        from botwatch import context

        bot, seen = invoked
        with context.scope() as message_id:
            await bot.invoke(self._ctx("ping"))
        assert seen == [(message_id, "ping")]

    async def test_a_command_invoked_by_a_command_nests_and_returns(self, invoked):
        """A command run from inside another shares its id, and the outer scope comes back."""
        bot, seen = invoked
        await bot.invoke(self._ctx("outer", inner=self._ctx("inner")))
        (outer_id, outer), (inner_id, inner), after = seen
        assert (outer, inner, after) == ("outer", "inner", (outer_id, "outer"))
        assert inner_id == outer_id


class TestHybridCommands:
    async def test_prefix_and_slash_invocations_share_one_series(self, offline, value, eventually):
        """`!hybrid` and `/hybrid` both count under command="hybrid"."""
        offline.message("!hybrid")
        offline.slash("hybrid")
        await eventually(
            lambda: value("bot_commands_total", command="hybrid", status="success") == 2
        )

    async def test_a_hybrid_slash_failure_is_an_error_of_the_original_type(
        self, offline, value, eventually
    ):
        """An exception in a hybrid command run as slash counts as `error` with its own type."""
        offline.slash("hybrid", fail="yes")
        await eventually(
            lambda: value("bot_command_errors_total", command="hybrid", error_type="KeyError") == 1
        )
        assert value("bot_commands_total", command="hybrid", status="error") == 1


class TestSlashCommands:
    async def test_a_slash_command_is_counted(self, offline, value, eventually):
        """`/slash` adds one success for `slash`."""
        offline.slash("slash")
        await eventually(lambda: value("bot_commands_total", command="slash", status="success"))
        assert value("bot_command_duration_seconds_count", command="slash") == 1

    async def test_a_slash_body_exception_is_an_error(self, offline, value, eventually):
        """An exception in a slash command body counts as `error` under its class name."""
        offline.slash("slash", fail="yes")
        await eventually(
            lambda: value(
                "bot_command_errors_total", command="slash", error_type="ZeroDivisionError"
            )
        )

    async def test_a_cancelled_slash_command_is_cancelled_not_an_error(
        self, offline, value, eventually
    ):
        """A slash command whose task is cancelled counts as `cancelled`, burning no budget."""
        offline.slash("slash", fail="cancel")
        await eventually(lambda: value("bot_commands_total", command="slash", status="cancelled"))
        assert value("bot_commands_total", command="slash", status="error") == 0

    async def test_an_app_check_failure_is_a_user_error(self, offline, value, eventually):
        """/guarded without administrator counts as `user_error`."""
        offline.slash("guarded")
        await eventually(
            lambda: value("bot_commands_total", command="guarded", status="user_error")
        )

    async def test_a_tree_error_handler_set_later_still_sees_errors(
        self, offline, value, eventually
    ):
        """Replacing tree.on_error after instrument() keeps errors classified, and calls it."""
        seen = []

        @offline.bot.tree.error
        async def on_error(interaction, error):
            seen.append(type(error).__name__)

        offline.slash("slash", fail="yes")
        await eventually(lambda: seen == ["CommandInvokeError"])
        assert value("bot_commands_total", command="slash", status="error") == 1


class TestContextMenus:
    async def test_a_message_context_menu_is_counted(self, offline, value, eventually):
        """The `Report` message menu counts as a command named after it."""
        offline.report()
        await eventually(lambda: value("bot_commands_total", command="Report", status="success"))


class TestClassification:
    @pytest.mark.parametrize(
        ("error", "expected"),
        [
            (commands.CheckFailure("no"), ("user_error", None)),
            (commands.MissingRequiredArgument(discord.ext.commands.Parameter("x", 1)), None),
            (commands.MaxConcurrencyReached(1, commands.BucketType.user), ("user_error", None)),
            (commands.DisabledCommand("off"), ("user_error", None)),
            (app_commands.CheckFailure("no"), ("user_error", None)),
            (commands.CommandInvokeError(OSError("disk")), ("error", "OSError")),
            (asyncio.CancelledError(), ("cancelled", None)),
            (commands.ConversionError(None, ValueError("conv")), ("error", "ConversionError")),
            (RuntimeError("raw"), ("error", "RuntimeError")),
        ],
    )
    def test_discord_py_exception_types_decide_the_status(self, error, expected):
        """Each discord.py exception family maps to its documented status."""
        assert classify(error) == (expected or ("user_error", None))


class TestGateway:
    async def test_events_are_counted_by_name(self, offline, value, eventually):
        """A message and a slash command count one `message` and one `interaction` event."""
        offline.message("hello")
        offline.slash("slash")
        await eventually(lambda: value("bot_commands_total", command="slash", status="success"))
        assert value("bot_gateway_events_total", event="interaction") == 1
        assert value("bot_gateway_events_total", event="message") == 1
        await eventually(lambda: value("bot_gateway_events_total", event="guild_available") == 1)

    async def test_a_connected_shard_has_its_counters_at_zero(self, offline, registry):
        """Once shard 0 is connected its disconnect and resume counters exist, at 0."""
        for name in ("bot_gateway_disconnects_total", "bot_gateway_resumes_total"):
            assert registry.get_sample_value(name, {"shard": "0"}) == 0

    async def test_a_disconnect_and_resume_are_counted(self, offline, obs, value):
        """Disconnect sets connected to 0 and fails readiness; resume restores both."""
        offline.disconnect()
        assert value("bot_gateway_connected", shard="0") == 0
        assert value("bot_gateway_disconnects_total", shard="0") == 1
        assert not await obs.health.evaluate()
        offline.resume()
        assert value("bot_gateway_connected", shard="0") == 1
        assert value("bot_gateway_resumes_total", shard="0") == 1
        assert await obs.health.evaluate()

    async def test_latency_is_read_from_the_heartbeat(self, offline, obs, value):
        """The sampler exports discord.py's own heartbeat latency for the shard."""
        keep_alive = offline.bot.ws._keep_alive
        keep_alive._last_send = keep_alive._last_ack = 0.0
        keep_alive.latency = 0.125
        obs._discord.sample_latency()
        assert value("bot_gateway_latency_seconds", shard="0") == 0.125

    async def test_guilds_are_counted_at_scrape_time(self, offline, value):
        """bot_guilds is the number of guilds in the bot's cache."""
        assert value("bot_guilds") == 1

    async def test_shard_events_are_tracked_per_shard(self, obs, value):
        """An AutoShardedBot's shard_disconnect marks only that shard disconnected."""
        bot = make_bot(commands.AutoShardedBot)
        obs.instrument(bot)
        bot.dispatch("shard_connect", 0)
        bot.dispatch("shard_connect", 1)
        bot.dispatch("disconnect")
        bot.dispatch("shard_disconnect", 1)
        assert value("bot_gateway_connected", shard="0") == 1
        assert value("bot_gateway_connected", shard="1") == 0
        assert value("bot_gateway_disconnects_total", shard="1") == 1


class TestRest:
    async def test_requests_are_labelled_by_route_template(self, offline, value, eventually):
        """A message sent by a command counts under the route template, not the URL."""
        offline.message("!ok")
        labels = {"method": "POST", "route": "/channels/{channel_id}/messages"}
        await eventually(lambda: value("bot_discord_requests_total", status="200", **labels))
        assert value("bot_discord_request_duration_seconds_count", **labels) == 1

    async def test_a_429_is_counted_and_retried(self, offline, value, eventually):
        """A 429 is counted with its scope, discord.py retries, and the command still succeeds."""
        offline.api.force_rate_limits = 1
        offline.message("!ok")
        labels = {"method": "POST", "route": "/channels/{channel_id}/messages"}
        await eventually(lambda: value("bot_commands_total", command="ok", status="success"))
        assert value("bot_discord_requests_total", status="429", **labels) == 1
        assert value("bot_discord_requests_total", status="200", **labels) == 1
        assert value("bot_discord_rate_limits_total", scope="user", **labels) == 1

    async def test_interaction_responses_are_counted(self, offline, value, eventually):
        """A slash command's response, sent through the webhook adapter, is counted and timed."""
        offline.slash("slash")
        labels = {"method": "POST", "route": "/interactions/{webhook_id}/{webhook_token}/callback"}
        await eventually(lambda: value("bot_discord_requests_total", status="200", **labels))
        assert value("bot_discord_request_duration_seconds_count", **labels) == 1

    async def test_login_requests_are_counted(self, offline, value):
        """The GET /users/@me of login() was seen, proving the trace is on the real session."""
        assert value("bot_discord_requests_total", method="GET", route="/users/@me", status="200")


class TestTaskLoops:
    async def test_cog_loops_get_heartbeats(self, offline, value, eventually):
        """A tasks.Loop on a cog added before instrument() exports its last success."""
        cog = offline.bot.get_cog("Probe")
        cog.beat.start()
        await eventually(
            lambda: value("bot_task_last_success_timestamp_seconds", task="Probe.beat") > 0
        )
        cog.beat.cancel()
        assert value("bot_task_interval_seconds", task="Probe.beat") == 0.01


class TestHookFailures:
    async def test_a_broken_hook_is_counted_and_the_command_still_runs(
        self, dbot, obs, logs, value, monkeypatch
    ):
        """If counting events raises, the command still runs, and the error is counted once."""

        class Broken:
            def labels(self, *_):
                raise RuntimeError("metric backend gone")

        monkeypatch.setattr(obs.metrics.events, "metric", Broken())
        await dpytest.message("!ok")
        await dpytest.message("!ok")
        assert dpytest.verify().message().content("fine")
        assert value("bot_exporter_errors_total", component="gateway") >= 2
        reports = [r for r in logs.records() if r["logger"] == "botwatch"]
        assert [r["exc_type"] for r in reports if r.get("component") == "gateway"] == [
            "RuntimeError"
        ]

    @staticmethod
    def _reports(logs, component: str) -> list[str]:
        return [
            r["exc_type"]
            for r in logs.records()
            if r["logger"] == "botwatch" and r.get("component") == component
        ]

    async def test_a_broken_command_recorder_is_logged_once_per_kind(
        self, dbot, obs, logs, value, monkeypatch
    ):
        """If recording a command raises, every command still runs and counts the error, and
        the error is logged once for its kind, not once per command."""
        hook = obs._discord

        def broken(*_args, **_kwargs):
            raise RuntimeError("metric backend gone")

        monkeypatch.setattr(hook, "record_command", broken)
        monkeypatch.setattr(hook, "_succeeded", {})  # no cached children: the recorder runs
        for _ in range(3):
            await dpytest.message("!ok")
            assert dpytest.verify().message().content("fine")
        assert value("bot_exporter_errors_total", component="commands") == 3
        assert self._reports(logs, "commands") == ["RuntimeError"]

    async def test_a_broken_http_trace_is_logged_once_per_kind(
        self, offline, obs, logs, value, eventually, monkeypatch
    ):
        """If counting a REST response raises, the calls still go through and the error is
        counted per response but logged once for its kind."""

        class Broken:
            def labels(self, *_):
                raise RuntimeError("metric backend gone")

        monkeypatch.setattr(obs.metrics.requests, "metric", Broken())
        monkeypatch.setattr(obs.metrics.requests, "_children", {})
        for _ in range(3):
            offline.message("!ok")
        await eventually(lambda: value("bot_commands_total", command="ok", status="success") == 3)
        await eventually(lambda: value("bot_exporter_errors_total", component="http") >= 3)
        assert self._reports(logs, "http") == ["RuntimeError"]


class TestSeriesAtTheCap:
    async def test_new_command_names_past_the_cap_add_no_series(self, registry):
        """Once every label is at its cap, thousands more command names add no series."""
        import botwatch
        from prometheus_client import generate_latest
        from prometheus_client.parser import text_string_to_metric_families

        obs = botwatch.setup(
            service="t", registry=registry, port=0, configure_logging=False, label_limit=20
        )
        bot = make_bot()

        async def body(ctx) -> None:
            if ctx.fail:
                raise commands.CommandInvokeError(ValueError("boom"))

        bot.invoke = body  # discord.py's invocation stands aside: the hook alone is exercised
        obs.instrument(bot)

        async def run(names: range) -> None:
            for i in names:
                command = commands.Command(body, name=f"c{i}")
                attributes = {"command": command, "fail": i % 3 == 0, "command_failed": False}
                ctx = type("Ctx", (), attributes)()
                with contextlib.suppress(commands.CommandInvokeError):
                    await bot.invoke(ctx)

        def exposed() -> int:
            families = text_string_to_metric_families(generate_latest(registry).decode())
            return sum(len(f.samples) for f in families if f.name.startswith("bot_"))

        # Past the cap of 20 in every family (command_errors sees every third name only):
        # "other" and the overflow series exist now.
        await run(range(100))
        at_cap, series_at_cap = exposed(), obs.metrics.count_series()
        await run(range(100, 3_000))
        assert (exposed(), obs.metrics.count_series()) == (at_cap, series_at_cap)
        counted = sum(
            s.value
            for f in text_string_to_metric_families(generate_latest(registry).decode())
            for s in f.samples
            if s.name == "bot_commands_total"
        )
        assert counted == 3_000, "every command is still counted, in `other` past the cap"
