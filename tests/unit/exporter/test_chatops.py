"""Tests of botwatch.chatops: `/botwatch` run through discord.py's own app-command tree, offline.

These need no Alertmanager (an unreachable one is the point of some); silences against the real
Alertmanager binary are in tests/e2e/test_chatops.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from botwatch.alertmanager import Alert, AlertmanagerClient, AlertmanagerRefused
from botwatch.chatops import PAGE_CHARS, parse_duration
from botwatch.demo import payloads

from tests.support.discord_app import SlashCommands
from tests.support.net import free_port
from tests.unit.exporter.bots import make_bot

DEAD = f"http://127.0.0.1:{free_port()}"


@pytest.fixture
async def chatops(obs):
    """A bot with `/botwatch` whose one Alertmanager does not answer; Admin may silence."""
    bot = make_bot()
    obs.instrument(bot)
    ops = obs.add_chatops(bot, alertmanager_urls=[DEAD], silence_roles=["Admin"])
    async with SlashCommands(bot) as app:
        yield app, ops
    await ops.close()


class TestStatus:
    async def test_reports_checks_lag_gateway_and_commands_against_the_slo(self, chatops, obs):
        """Status shows each check (with its error), loop lag, shard 0's latency, the command rate
        and the error ratio as a burn rate of the 99.5% SLO, ephemerally."""
        app, ops = chatops

        async def database() -> bool:
            raise RuntimeError("connection refused")

        obs.add_readiness_check("database", database)
        await obs.health.evaluate()
        ops.rate.sample()
        obs.metrics.commands.labels("ping", "success").inc(9)
        obs.metrics.commands.labels("ping", "error").inc(1)
        reply = await app.run("botwatch", "status", member=app.member("ana"))
        assert reply.ephemeral
        (embed,) = reply.embeds
        assert embed["title"] == "testbot: not ready ❌"
        fields = {field["name"].split(" (")[0]: field["value"] for field in embed["fields"]}
        assert fields["Checks"] == "✅ gateway\n❌ database — RuntimeError: connection refused"
        assert fields["Event loop lag"].endswith(" ms")
        assert fields["Gateway"].startswith("shard 0: connected, ")
        assert fields["Gateway"].endswith(" ms")
        assert fields["Commands"].endswith("/s")
        assert fields["Error ratio"] == (
            "10.00% errors; SLO 99.5% succeed → burning the error budget at 20.0×"
        )

    async def test_many_failing_checks_stay_within_an_embed_field(self, chatops, obs):
        """60 failing checks with long errors are cut at Discord's 1024-character field limit,
        the rest counted."""
        app, _ = chatops
        for n in range(60):

            async def failing() -> bool:
                raise RuntimeError("e" * 500)

            obs.add_readiness_check(f"check-{n:02d}", failing)
        await obs.health.evaluate()
        reply = await app.run("botwatch", "status", member=app.member("ana"))
        checks = reply.embeds[0]["fields"][0]["value"]
        assert len(checks) <= 1024
        shown = checks.count("\n❌ ") + checks.count("\n✅ ") + 1
        assert checks.endswith(f"…and {61 - shown} more")

    async def test_can_answer_in_the_channel(self, obs):
        """With ephemeral=False the status is visible to the channel."""
        bot = make_bot()
        ops = obs.add_chatops(bot, alertmanager_urls=[DEAD], ephemeral=False)
        async with SlashCommands(bot) as app:
            reply = await app.run("botwatch", "status", member=app.member("ana"))
        await ops.close()
        assert not reply.ephemeral
        assert "no commands" in reply.text


class TestWhoMaySilence:
    async def test_a_member_without_role_or_permission_is_refused(self, chatops, logs):
        """A plain member gets a private refusal naming what it takes, and an audit line."""
        app, _ = chatops
        member = app.member("eve")
        reply = await app.run("botwatch", "silence", member=member, alert="BotDown", duration="1h")
        assert reply.ephemeral
        assert reply.content == (
            "⛔ You may not silence alerts here: that takes the Admin role or the Manage Guild "
            "permission."
        )
        audit = logs.find("refused a /botwatch silence")
        assert audit["audit"] == "silence.refused"
        assert audit["discord_user_id"] == member["user"]["id"]

    async def test_unsilence_is_refused_too(self, chatops):
        """Expiring a silence takes the same role or permission."""
        app, _ = chatops
        reply = await app.run("botwatch", "unsilence", member=app.member("eve"), id="abc")
        assert reply.ephemeral and reply.content.startswith("⛔ You may not unsilence alerts")

    @pytest.mark.parametrize("how", ["role", "permission"])
    async def test_the_role_or_the_permission_is_enough(self, chatops, how):
        """A member with the Admin role, or with Manage Guild, gets past the check (here to an
        Alertmanager that does not answer)."""
        app, _ = chatops
        if how == "role":
            member = app.member("ana", roles=[app.admin_role])
        else:
            member = app.member("ana", permissions=payloads.ALL_PERMISSIONS)
        reply = await app.run("botwatch", "silence", member=member, alert="BotDown", duration="1h")
        assert "Alertmanager cannot be reached" in reply.content

    def test_an_unknown_permission_name_is_refused_at_setup(self, obs):
        """A typo in silence_permissions fails at add_chatops(), not silently at every command."""
        with pytest.raises(ValueError, match="manage_guilds"):
            obs.add_chatops(
                make_bot(), alertmanager_urls=[DEAD], silence_permissions=["manage_guilds"]
            )


class TestAlertmanagerDown:
    @pytest.mark.parametrize(
        ("command", "options"),
        [
            ("alerts", {}),
            ("silence", {"alert": "BotDown", "duration": "2h"}),
            ("unsilence", {"id": "x"}),
        ],
    )
    async def test_a_clear_ephemeral_message_and_no_error_in_the_bot(
        self, chatops, value, eventually, command, options
    ):
        """Every Alertmanager command says it cannot reach it (naming the address), privately,
        and the command itself does not fail."""
        app, _ = chatops
        member = app.member("ana", roles=[app.admin_role])
        reply = await app.run("botwatch", command, member=member, **options)
        assert reply.ephemeral
        assert reply.content.startswith("⚠️ Alertmanager cannot be reached right now (")
        assert f"{DEAD.removeprefix('http://')}" in reply.content
        name = f"botwatch {command}"
        # Counted when the command returns, a moment after its reply.
        await eventually(lambda: value("bot_commands_total", command=name, status="success"))
        assert value("bot_commands_total", command=name, status="error") == 0

    async def test_credentials_in_a_url_never_reach_the_reply(self, obs):
        """An address written with user:password@ is shown without them."""
        bot = make_bot()
        url = DEAD.replace("http://", "http://bot:s3cret-pass@")
        ops = obs.add_chatops(bot, alertmanager_urls=[url], ephemeral=False)
        async with SlashCommands(bot) as app:
            reply = await app.run("botwatch", "alerts", member=app.member("ana"))
        await ops.close()
        assert "Alertmanager cannot be reached" in reply.content
        assert "s3cret" not in reply.content and "bot:" not in reply.content


class TestSilenceArguments:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("30m", timedelta(minutes=30)),
            ("2h", timedelta(hours=2)),
            ("1d12h", timedelta(days=1, hours=12)),
            ("1w", timedelta(weeks=1)),
            (" 90S ", timedelta(seconds=90)),
            ("0m", None),
            ("2 hours", None),
            ("h", None),
            ("", None),
        ],
    )
    def test_durations(self, text, expected):
        """Durations are w, d, h, m, s (largest first); zero or prose is None."""
        assert parse_duration(text) == expected

    async def test_a_bad_duration_is_explained(self, chatops):
        """`duration:forever` is answered with what a duration looks like."""
        app, _ = chatops
        member = app.member("ana", roles=[app.admin_role])
        reply = await app.run("botwatch", "silence", member=member, alert="X", duration="forever")
        assert reply.ephemeral and "is not a duration from 1m to 30d" in reply.content


class TestAlertPages:
    def test_fifty_long_alerts_fit_discords_limits(self, chatops):
        """50 alerts with 1,000-character summaries and labels are paged under the embed limits,
        each alert exactly once, worst severity first."""
        _, ops = chatops
        started = datetime(2026, 12, 1, tzinfo=UTC)
        alerts = sorted(
            (
                Alert(
                    labels={"alertname": f"Alert{i:02d}", "severity": sev, "service": "s" * 300},
                    annotations={"summary": "x" * 1000, "runbook_url": "docs/runbooks/X.md"},
                    starts_at=started,
                    generator_url="http://prometheus:9090/graph?g0.expr=up",
                )
                for i, sev in enumerate(
                    ["info", "warning", "critical", "other"] * 12 + ["info"] * 2
                )
            ),
            key=lambda alert: alert.rank,
        )
        pages = ops.alert_pages(alerts)
        assert len(pages) > 1
        assert all(len(page) <= PAGE_CHARS < 4096 for page in pages)
        text = "\n".join(pages)
        assert sorted(n for n in range(50) if f"**Alert{n:02d}**" in text) == list(range(50))
        assert pages[0].startswith("🔴")
        assert "[source](http://prometheus:9090/graph?g0.expr=up)" in pages[0]


class TestClient:
    @pytest.fixture
    async def guarded_alertmanager(self):
        """An HTTP server answering the alerts API only with the right basic-auth credentials, as
        the stack's authenticated entry point does."""

        async def alerts(request: web.Request) -> web.Response:
            if request.headers.get("Authorization") != "Basic Ym90OnMzY3JldA==":  # bot:s3cret
                return web.Response(status=401, text="unauthorized")
            return web.json_response(
                [{"labels": {"alertname": "BotDown"}, "startsAt": "2026-12-01T17:32:15.123456789Z"}]
            )

        app = web.Application()
        app.router.add_get("/api/v2/alerts", alerts)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        await runner.cleanup()

    async def test_sends_basic_auth_credentials(self, guarded_alertmanager):
        """With auth=(user, password) the entry point lets the request through."""
        client = AlertmanagerClient([guarded_alertmanager], auth=("bot", "s3cret"))
        try:
            (alert,) = await client.firing()
        finally:
            await client.close()
        assert alert.name == "BotDown"
        assert alert.starts_at == datetime(2026, 12, 1, 17, 32, 15, 123456, tzinfo=UTC)

    async def test_without_credentials_the_refusal_is_final(self, guarded_alertmanager):
        """A 401 is the entry point's answer, not an outage: it is raised, not retried elsewhere."""
        client = AlertmanagerClient([guarded_alertmanager, DEAD])
        try:
            with pytest.raises(AlertmanagerRefused) as refused:
                await client.firing()
        finally:
            await client.close()
        assert refused.value.status == 401

    def test_a_single_url_string_is_a_mistake(self):
        """alertmanager_urls is a list: a bare string (a list of characters) is refused."""
        with pytest.raises(ValueError, match="list"):
            AlertmanagerClient("http://alertmanager:9093")
