"""`/botwatch` alerts, silence and unsilence against the real Alertmanager binary.

The commands run through discord.py's own app-command tree (tests/support/discord_app.py); the
Alertmanager runs with the config `make up` renders when no chat channel is configured, so posted
alerts notify nobody and only its API is observed.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import subprocess
import urllib.error
import urllib.request
from urllib.parse import quote

import botwatch
import pytest
from prometheus_client import CollectorRegistry
from stackctl.alerting import render

from tests.support.discord_app import SlashCommands
from tests.support.native_stack import REPO, Alertmanager, Process
from tests.support.net import free_port
from tests.support.polling import poll
from tests.unit.exporter.bots import make_bot

NOISY = "E2eChatopsNoisy"


@pytest.fixture(scope="module")
def alertmanager(tool, tmp_path_factory):
    """The real Alertmanager with the shipped config (no channel configured)."""
    workdir = tmp_path_factory.mktemp("chatops")
    render({}, workdir / "config", templates_dir=str(REPO / "alertmanager" / "templates"))
    am = Alertmanager(tool, workdir, workdir / "config" / "alertmanager.yml")
    am.start()
    yield am
    am.stop()


@pytest.fixture
def audit_log():
    """The JSON lines botwatch writes during the test (on the root logger, as setup() does)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def slash(audit_log):
    """``await slash(urls, auth=None)``: a bot with `/botwatch` on those Alertmanager URLs (the
    Admin role may silence), logged in to the offline Discord; closed after the test."""
    made = []

    async def make(urls: list[str], auth: tuple[str, str] | None = None) -> SlashCommands:
        obs = botwatch.setup(
            service="e2e-bot", registry=CollectorRegistry(), port=0, log_stream=audit_log
        )
        bot = make_bot()
        obs.instrument(bot)
        ops = obs.add_chatops(
            bot, alertmanager_urls=urls, alertmanager_auth=auth, silence_roles=["Admin"]
        )
        app = await SlashCommands(bot).__aenter__()
        made.append((app, ops))
        return app

    yield make
    for app, ops in made:
        await app.__aexit__()
        await ops.close()


def _post(alertmanager, name: str) -> dict:
    alert = {
        "labels": {"alertname": name, "severity": "warning", "service": "bot"},
        "annotations": {"summary": "Something noisy (e2e).", "runbook_url": "docs/runbooks/X.md"},
    }
    alertmanager.post([alert])
    return alert


def _state(alertmanager, name: str) -> dict:
    (alert,) = alertmanager.get("alerts?filter=" + quote(f'alertname="{name}"'))
    return alert["status"]


def _silences(alertmanager, name: str) -> list[dict]:
    return [
        s
        for s in alertmanager.get("silences")
        if {"name": "alertname", "value": name, "isRegex": False, "isEqual": True} in s["matchers"]
    ]


def _audit(stream: io.StringIO, audit: str) -> dict:
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line]
    return next(line for line in lines if line.get("audit") == audit)


async def test_a_silence_from_discord_is_honoured_then_expired(alertmanager, slash, audit_log):
    """`/botwatch alerts` lists a posted alert; `/botwatch silence` creates a silence Alertmanager
    shows with the Discord user as createdBy and the reason as comment, the alert becomes
    suppressed by it and leaves the list, an audit line is logged; `/botwatch unsilence` expires it
    and the alert is active again."""
    app = await slash([alertmanager.url])
    _post(alertmanager, NOISY)
    admin = app.member("ana", roles=[app.admin_role])

    listed = await app.run("botwatch", "alerts", member=admin)
    assert listed.ephemeral
    assert f"**{NOISY}** · warning · bot" in listed.text
    assert "Something noisy (e2e)." in listed.text

    reply = await app.run(
        "botwatch", "silence", member=admin, alert=NOISY, duration="2h", reason="deploy, e2e"
    )
    assert reply.ephemeral and reply.content.startswith(f"🔕 Silenced `{NOISY}` until <t:")
    (silence,) = _silences(alertmanager, NOISY)
    assert silence["id"] in reply.content
    assert silence["status"]["state"] == "active"
    assert silence["createdBy"] == f"ana (discord:{admin['user']['id']})"
    assert silence["comment"] == "deploy, e2e"
    suppressed = poll(lambda: _state(alertmanager, NOISY)["state"] == "suppressed", 10, 0.2)
    assert suppressed, _state(alertmanager, NOISY)
    assert _state(alertmanager, NOISY)["silencedBy"] == [silence["id"]]
    assert NOISY not in (await app.run("botwatch", "alerts", member=admin)).text
    audit = _audit(audit_log, "silence.create")
    assert (audit["silence_id"], audit["alertname"], audit["duration_seconds"]) == (
        silence["id"],
        NOISY,
        7200,
    )
    assert audit["discord_user_id"] == admin["user"]["id"]

    undone = await app.run("botwatch", "unsilence", member=admin, id=silence["id"])
    assert undone.content == f"🔔 Silence `{silence['id']}` expired."
    (silence,) = _silences(alertmanager, NOISY)
    assert silence["status"]["state"] == "expired"
    assert poll(lambda: _state(alertmanager, NOISY)["state"] == "active", 10, 0.2)
    assert _audit(audit_log, "silence.expire")["silence_id"] == silence["id"]


async def test_a_member_without_the_role_changes_nothing(alertmanager, slash):
    """A plain member's `/botwatch silence` is refused and Alertmanager holds no new silence."""
    app = await slash([alertmanager.url])
    _post(alertmanager, f"{NOISY}Refused")
    reply = await app.run(
        "botwatch", "silence", member=app.member("eve"), alert=f"{NOISY}Refused", duration="1h"
    )
    assert reply.ephemeral and reply.content.startswith("⛔ You may not silence alerts")
    assert _silences(alertmanager, f"{NOISY}Refused") == []


async def test_an_ha_list_whose_first_member_is_down_still_works(alertmanager, slash):
    """With the first URL of the list dead, the silence and the listing use the second."""
    app = await slash([f"http://127.0.0.1:{free_port()}", alertmanager.url])
    name = f"{NOISY}Ha"
    _post(alertmanager, name)
    admin = app.member("ana", roles=[app.admin_role])
    assert f"**{name}**" in (await app.run("botwatch", "alerts", member=admin)).text
    reply = await app.run("botwatch", "silence", member=admin, alert=name, duration="30m")
    assert reply.content.startswith(f"🔕 Silenced `{name}`"), reply.content
    (silence,) = _silences(alertmanager, name)
    assert silence["status"]["state"] == "active"


async def test_unsilencing_an_unknown_id_says_so(alertmanager, slash):
    """An id Alertmanager does not know is answered plainly, not as an outage."""
    app = await slash([alertmanager.url])
    admin = app.member("ana", roles=[app.admin_role])
    reply = await app.run(
        "botwatch", "unsilence", member=admin, id="00000000-0000-0000-0000-000000000000"
    )
    assert reply.content == "⚠️ No active silence `00000000-0000-0000-0000-000000000000`."


@pytest.fixture(scope="module")
def entry_point(tool, alertmanager, tmp_path_factory):
    """The real caddy in front of the real Alertmanager with basic auth, as the stack's
    authenticated ingest entry point puts it: (URL, user, password)."""
    folder = tmp_path_factory.mktemp("entry-point")
    password = "e2e-" + secrets.token_urlsafe(12)
    hashed = subprocess.run(
        # bcrypt at cost 10, not caddy's default 14: that one takes seconds on a busy 2-core
        # machine for the first request (caddy caches it after), past the client's timeout.
        [
            tool("caddy"),
            "hash-password",
            "--algorithm",
            "bcrypt",
            "--bcrypt-cost",
            "10",
            "--plaintext",
            password,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = free_port()
    (folder / "Caddyfile").write_text(
        "{\n\tadmin off\n\tauto_https off\n}\n"
        f"http://127.0.0.1:{port} {{\n\tbind 127.0.0.1\n"
        f"\tbasic_auth {{\n\t\tbot {hashed}\n\t}}\n"
        f"\treverse_proxy {alertmanager.url.removeprefix('http://')}\n}}\n"
    )
    caddy = Process(
        "caddy",
        [tool("caddy"), "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"],
        folder / "caddy.log",
        {"HOME": str(folder), "XDG_DATA_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)},
    )
    caddy.start()
    try:
        # 401 until credentials are sent: answering at all means it is up.
        poll(lambda: _answers(f"http://127.0.0.1:{port}/api/v2/status"), 20, 0.2)
        yield f"http://127.0.0.1:{port}", "bot", password
    finally:
        caddy.stop()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


async def test_through_an_authenticated_entry_point(entry_point, alertmanager, slash):
    """Behind caddy's basic auth, a bot with the credentials silences; without them it is told the
    request was refused (401), and the password appears in no reply."""
    url, user, password = entry_point
    name = f"{NOISY}Gateway"
    _post(alertmanager, name)
    allowed = await slash([url], auth=(user, password))
    admin = allowed.member("ana", roles=[allowed.admin_role])
    reply = await allowed.run("botwatch", "silence", member=admin, alert=name, duration="1h")
    assert reply.content.startswith(f"🔕 Silenced `{name}`"), reply.content
    assert len(_silences(alertmanager, name)) == 1

    anonymous = await slash([url])
    refused = await anonymous.run("botwatch", "alerts", member=admin)
    assert refused.ephemeral
    assert refused.content.startswith("⚠️ Alertmanager refused the request (HTTP 401")
    assert password not in reply.content + refused.content
