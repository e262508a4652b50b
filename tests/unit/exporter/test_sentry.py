"""Tests of botwatch.sentry with the real sentry-sdk sending to a local envelope receiver."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
import botwatch
import discord.ext.test as dpytest
import pytest
import sentry_sdk
from botwatch import context
from botwatch import logging as bw_logging
from discord.ext import commands

from tests.support.fake_secrets import PLANTED, USER_TEXT
from tests.support.sentry_envelopes import Envelopes
from tests.unit.exporter.bots import exemplars


@pytest.fixture
def envelopes():
    """A running receiver; ``envelopes.dsn`` points at it."""
    with Envelopes() as received:
        yield received


def _sentry_obs(registry, logs, dsn: str) -> botwatch.Observability:
    return botwatch.setup(
        service="s",
        registry=registry,
        port=0,
        log_stream=logs,
        sentry_dsn=dsn,
        sentry_traces_sample_rate=1.0,
    )


@pytest.fixture
async def sentry_obs(registry, logs, envelopes):
    """botwatch with Sentry sending to the local receiver; Sentry switched off afterwards."""
    obs = _sentry_obs(registry, logs, envelopes.dsn)
    yield obs
    sentry_sdk.init()  # an inactive client: nothing leaks into later tests
    bw_logging.trace_id_source = None


async def _flush() -> None:
    await asyncio.to_thread(sentry_sdk.flush, 5)


class Traced(commands.Cog):
    """One command doing a tracked operation and logging."""

    def __init__(self, obs: botwatch.Observability) -> None:
        self.obs = obs

    @commands.command()
    async def lookup(self, ctx: commands.Context) -> None:
        async with self.obs.track("db.query"):
            await asyncio.sleep(0.01)
        logging.getLogger("probe").info("looked up")


class TestInit:
    def test_defaults_are_production_safe(self, registry, logs, envelopes):
        """Without overrides PII is off and traces are sampled at a small rate."""
        botwatch.setup(
            service="s", registry=registry, port=0, log_stream=logs, sentry_dsn=envelopes.dsn
        )
        try:
            options = sentry_sdk.get_client().options
            assert not options["send_default_pii"]
            assert options["traces_sampler"]({"parent_sampled": None}) == 0.05
        finally:
            sentry_sdk.init()
            bw_logging.trace_id_source = None

    def test_no_dsn_means_no_sentry(self, obs):
        """Without SENTRY_DSN botwatch does not initialise Sentry."""
        assert obs.sentry is None


class TestErrorEvents:
    async def test_an_error_log_becomes_an_event_whose_id_is_on_the_line(
        self, sentry_obs, logs, envelopes
    ):
        """An error record is sent with correlation id and command tags; the line has its id."""
        with context.scope(command_name="ban") as cid:
            logging.getLogger("mybot").error("ban failed")
        await _flush()
        (event,) = envelopes.of("event")
        line = logs.find("ban failed")
        assert line["sentry_event_id"] == event["event_id"]
        assert event["tags"]["correlation_id"] == cid and event["tags"]["command"] == "ban"
        assert event["logentry"]["formatted"] == "ban failed"

    async def test_info_lines_are_not_events(self, sentry_obs, logs, envelopes):
        """Below error level nothing is sent and no event id is written."""
        logging.getLogger("mybot").warning("just a warning")
        await _flush()
        assert envelopes.of("event") == []
        assert "sentry_event_id" not in logs.find("just a warning")


class TestTransactions:
    async def test_a_command_is_a_transaction_with_a_span_per_tracked_operation(
        self, sentry_obs, logs, envelopes, dpytest_bot
    ):
        """`!lookup` sends a discord.command transaction named lookup with a db.query span."""
        await dpytest_bot(Traced(sentry_obs), sentry_obs)
        await dpytest.message("!lookup")
        await _flush()
        (transaction,) = [t for t in envelopes.of("transaction") if t["transaction"] == "lookup"]
        trace = transaction["contexts"]["trace"]
        assert (trace["op"], trace["status"]) == ("discord.command", "ok")
        assert [s["description"] for s in transaction["spans"] if s["op"] == "botwatch.track"] == [
            "db.query"
        ]
        assert transaction["tags"]["command"] == "lookup"
        assert logs.find("looked up")["trace_id"] == trace["trace_id"]

    async def test_the_duration_exemplar_names_the_transaction_and_the_log_lines(
        self, sentry_obs, logs, envelopes, dpytest_bot, registry
    ):
        """The command's and its tracked operation's duration buckets carry the trace id Sentry
        got and the correlation id of the command's log lines."""
        await dpytest_bot(Traced(sentry_obs), sentry_obs)
        await dpytest.message("!lookup")
        await _flush()
        (transaction,) = [t for t in envelopes.of("transaction") if t["transaction"] == "lookup"]
        expected = {
            "correlation_id": logs.find("looked up")["correlation_id"],
            "trace_id": transaction["contexts"]["trace"]["trace_id"],
        }
        assert exemplars(registry, "command_duration_seconds", command="lookup") == [expected]
        assert exemplars(registry, "operation_duration_seconds", operation="db.query") == [expected]

    async def test_scrapes_are_never_traced(self, sentry_obs, envelopes):
        """Even at sample rate 1.0, GET /metrics and /health/* create no transaction."""
        await sentry_obs.start()
        async with aiohttp.ClientSession() as http:
            for path in ("/metrics", "/health/live"):
                async with http.get(f"http://127.0.0.1:{sentry_obs.port}{path}") as response:
                    assert response.status == 200
        await sentry_obs.close()
        await _flush()
        assert [t["transaction"] for t in envelopes.of("transaction")] == []


class TestUnreachable:
    async def test_an_unreachable_sentry_does_not_delay_the_loop(self, registry, logs):
        """With Sentry accepting connections but never answering, logging errors does not wait."""
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            obs = _sentry_obs(registry, logs, f"http://key@127.0.0.1:{silent.getsockname()[1]}/1")
            try:
                loop = asyncio.get_running_loop()
                started = loop.time()
                for i in range(50):
                    logging.getLogger("mybot").error("failure %d", i)
                # A send on the caller's thread would wait for sentry-sdk's 30 s HTTP timeout at
                # the first record; the bound is far below that, far above a busy machine's noise.
                assert loop.time() - started < 10
                ticks = 0

                async def ticker() -> None:
                    nonlocal ticks
                    while True:
                        ticks += 1
                        await asyncio.sleep(0.01)

                task = asyncio.create_task(ticker())
                await obs.close()  # flushes in a thread, so the loop keeps ticking meanwhile
                task.cancel()
                assert ticks > 10
            finally:
                sentry_sdk.init()
                bw_logging.trace_id_source = None


class Finder(commands.Cog):
    """A command whose argument, typed by the user, ends up in discord.py's error text."""

    @commands.command()
    async def find(self, ctx: commands.Context, *, name: str) -> None:
        raise commands.MemberNotFound(name)


class TestScrubbing:
    """Planted secrets and chat content, searched for in the raw envelopes Sentry sent."""

    async def test_no_planted_secret_reaches_an_envelope(self, sentry_obs, logs, envelopes):
        """Credentials in a breadcrumb, a message, an extra and a chained traceback: none sent."""
        log = logging.getLogger("mybot")
        log.info("connecting with %s", PLANTED["discord_token"])  # a breadcrumb
        try:
            try:
                raise ConnectionError(f"POST {PLANTED['discord_webhook']} refused")
            except ConnectionError as cause:
                raise RuntimeError(f"bot {PLANTED['telegram_token']}") from cause
        except RuntimeError:
            log.exception(
                "alerting failed via %s", PLANTED["sentry_dsn"], extra={"content": USER_TEXT}
            )
        await _flush()
        (event,) = envelopes.of("event")
        sent = envelopes.raw()
        assert [kind for kind, value in PLANTED.items() if value.encode() in sent] == []
        assert USER_TEXT.encode() not in sent
        assert event["logentry"]["formatted"] == "alerting failed via [redacted:sentry_dsn]"
        values = {v["type"]: v["value"] for v in event["exception"]["values"]}
        assert values == {
            "ConnectionError": "POST [redacted:discord_webhook] refused",
            "RuntimeError": "bot [redacted:telegram_token]",
        }
        crumbs = [c.get("message") for c in event["breadcrumbs"]["values"]]
        assert "connecting with [redacted:discord_token]" in crumbs

    async def test_a_users_input_never_reaches_an_envelope(
        self, sentry_obs, logs, envelopes, dpytest_bot
    ):
        """A command failing on what the user typed (discord.py logs it as an error, so Sentry
        gets it), and the same error logged by the bot: the text is in no event and no frame."""
        await dpytest_bot(Finder(), sentry_obs)
        with pytest.raises(commands.MemberNotFound):
            await dpytest.message(f"!find {USER_TEXT}")
        try:
            raise commands.MemberNotFound(USER_TEXT)
        except commands.MemberNotFound:
            logging.getLogger("mybot").exception("lookup failed")
        await _flush()
        assert envelopes.of("event")
        assert USER_TEXT.encode() not in envelopes.raw()
        values = [v for e in envelopes.of("event") for v in e["exception"]["values"]]
        assert {(v["type"], v["value"]) for v in values} == {
            ("MemberNotFound", "[redacted:content]")
        }
