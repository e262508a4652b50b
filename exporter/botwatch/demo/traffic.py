"""Offline traffic: a simulated Discord that feeds a real discord.py bot.

Gateway events go through discord.py's own parsers (``ConnectionState.parsers``),
REST calls through its real HTTP client to :class:`FakeDiscordAPI`, and the gateway
heartbeat latency through a real ``KeepAliveHandler`` — so botwatch sees exactly what
it would see in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

import discord
from discord.gateway import DiscordWebSocket, KeepAliveHandler

from . import payloads
from .bot import Conditions
from .drills import Drills
from .fakeapi import FakeDiscordAPI
from .settings import DemoSettings, in_window

log = logging.getLogger("demo.traffic")

# During an incident: the share of backend calls that fail (about a quarter of all commands),
# the seconds a saturated backend adds to each call (p95 of commands well above 2.5 s), and the
# share of REST calls answered 429 (a handful, below BotDiscordRateLimited's 2 a minute for 10m).
BURST_ERROR_RATE = 0.6
INCIDENT_BACKEND_DELAY = 3.0
INCIDENT_RATE_LIMIT = 0.03
DRAIN_TIMEOUT = 5.0


class OfflineDiscord:
    """One guild of simulated members talking to a discord.py bot.

    Any ``commands.Bot`` works (the tests drive theirs with it); the demo bot also
    exposes ``conditions``, which the incident schedule changes.
    """

    def __init__(self, bot: discord.Client, settings: DemoSettings) -> None:
        self.bot = bot
        self.settings = settings
        self.conditions: Conditions = getattr(bot, "conditions", None) or Conditions()
        self.conditions.failing_task = settings.stall_task  # before the loops first run
        self.conditions.error_rate = settings.error_rate
        self.rng = random.Random(settings.seed)
        self.me = payloads.user("botwatch-demo", bot=True)
        self.api = FakeDiscordAPI(
            self.me,
            latency=lambda: self.rng.lognormvariate(-3.5, 0.4) * self.conditions.slow_factor,
            rate_limit_probability=settings.rate_limit,
            rng=self.rng,
        )
        self.users = [payloads.user(f"member{i}") for i in range(40)]
        self.admin = payloads.user("admin")
        self.guild: dict[str, Any] = {}
        self.channels: list[dict[str, Any]] = []
        self.application_id = ""
        self._latency = 0.05
        self._connected = False
        self.reconnecting = False
        self.stuck = False  # connected, but nothing reaches the bot (a drill)
        self.slow_heartbeats = False  # heartbeats as slow as in a latency spike (a drill)
        self.drills = Drills(self)
        self._boot = time.monotonic()  # incidents are scheduled from here
        # Start mid-morning of the simulated day, so there is traffic from the first minute.
        self._started = self._boot - settings.day / 4
        self._tasks: list[asyncio.Task[None]] = []

    # -- world ----------------------------------------------------------------------------
    async def connect(self) -> None:
        """Log in against the fake API, then play READY and GUILD_CREATE like the gateway."""
        discord.http.Route.BASE = await self.api.start()
        await self.bot.login("demo-token")
        self.application_id = str(self.bot.application_id)
        admin_role_holder = payloads.member(self.admin)
        members = [payloads.member(u) for u in self.users] + [
            admin_role_holder,
            payloads.member(self.me),
        ]
        self.guild = payloads.guild(
            "Botwatch Demo",
            owner_id=self.admin["id"],
            members=members,
            channels=["general", "bots"],
        )
        admin_role_holder["roles"] = [self.guild["roles"][1]["id"]]
        self.channels = self.guild["channels"]
        ws = DiscordWebSocket(None, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
        ws._max_heartbeat_timeout = 60.0  # normally set by DiscordWebSocket.from_client()
        ws._keep_alive = KeepAliveHandler(ws=ws, interval=41.25, shard_id=None)
        self.bot.ws = ws
        self.heartbeat()  # the first HEARTBEAT_ACK arrives right after HELLO
        self._parse("READY", payloads.ready(self.me, self.application_id, [self.guild["id"]]))
        self._parse("GUILD_CREATE", self.guild)
        self._connected = True

    @property
    def connected(self) -> bool:
        """Whether the simulated gateway session is up."""
        return self._connected

    def _parse(self, event: str, data: dict[str, Any]) -> None:
        self.bot._connection.parsers[event](data)

    # -- running --------------------------------------------------------------------------
    async def run(self) -> None:
        """Play traffic, gateway weather and incidents until cancelled."""
        loops = (self._traffic(), self._heartbeats(), self._reconnects(), self._incidents())
        self._tasks = [asyncio.create_task(c) for c in loops]
        await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        """Stop the traffic, close the bot and the fake API."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Let commands already running answer before the HTTP session goes away.
        in_flight = [
            t
            for t in asyncio.all_tasks()
            if t.get_name().startswith(("discord.py:", "CommandTree-invoker")) and not t.done()
        ]
        if in_flight:
            await asyncio.wait(in_flight, timeout=DRAIN_TIMEOUT)
        self.drills.close()
        self.bot.ws = None  # the simulated socket has nothing to close
        await self.bot.close()
        await self.api.close()

    def _rate(self) -> float:
        """Events per second now: a compressed day, quietest at "night", plus noise."""
        phase = 2 * math.pi * (time.monotonic() - self._started) / self.settings.day
        daily = 0.55 - 0.45 * math.cos(phase)
        return max(0.05, self.settings.rate * daily * self.rng.uniform(0.8, 1.2))

    async def _traffic(self) -> None:
        actions = self._actions()
        names = [a[0] for a in actions]
        weights = [a[1] for a in actions]
        while True:
            await asyncio.sleep(self.rng.expovariate(self._rate()))
            if not self._connected or self.stuck:
                continue  # no events reach a disconnected (or stuck) bot
            (action,) = self.rng.choices(range(len(names)), weights)
            try:
                actions[action][2]()
            except Exception:
                log.exception("simulated %s could not be delivered", names[action])

    def _actions(self) -> list[tuple[str, float, Callable[[], None]]]:
        rng = self.rng

        def say(text: str, author: dict[str, Any] | None = None) -> Callable[[], None]:
            return lambda: self.message(text, author)

        return [
            ("chatter", 35, say("hello there")),
            ("ping", 15, say("!ping")),
            ("roll", 7, lambda: self.message(f"!roll {rng.choice(['6', '20', '100'])}")),
            ("roll-bad", 1, say("!roll many")),
            ("daily", 4, lambda: self.message("!daily", rng.choice(self.users[:5]))),
            ("purge", 1, lambda: self.message("!purge", rng.choice([self.admin, *self.users]))),
            ("search", 5, lambda: self.message(f"!search {rng.choice(['cats', 'news'])}")),
            ("profile", 8, say("!profile")),
            ("weather", 5, say("!weather Oslo")),
            ("unknown", 2, say("!dance")),
            ("slash-weather", 4, lambda: self.slash("weather", city="Lisbon")),
            ("slash-quote", 6, lambda: self.slash("quote")),
            ("menu-report", 2, self.report),
        ]

    # -- events ---------------------------------------------------------------------------
    def _channel(self) -> dict[str, Any]:
        return self.rng.choice(self.channels)

    def message(self, content: str, author: dict[str, Any] | None = None) -> dict[str, Any]:
        """A member posts a message (MESSAGE_CREATE)."""
        author = author or self.rng.choice(self.users)
        data = payloads.message(
            content, author=author, channel_id=self._channel()["id"], guild_id=self.guild["id"]
        )
        if author is self.admin:
            data["member"]["roles"] = [self.guild["roles"][1]["id"]]
        self._parse("MESSAGE_CREATE", data)
        return data

    def _interaction(self, data: dict[str, Any]) -> None:
        invoker = payloads.member(self.rng.choice(self.users))
        self._parse(
            "INTERACTION_CREATE",
            payloads.interaction(
                application_id=self.application_id,
                guild_id=self.guild["id"],
                channel=self._channel(),
                invoker=invoker,
                data=data,
            ),
        )

    def slash(self, name: str, **options: str) -> None:
        """A member runs a slash command (INTERACTION_CREATE)."""
        opts = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        self._interaction(payloads.slash_data(name, opts))

    def report(self) -> None:
        """A member uses the "Report" message context menu."""
        target = payloads.message(
            "spam",
            author=self.rng.choice(self.users),
            channel_id=self._channel()["id"],
            guild_id=None,
        )
        self._interaction(payloads.message_menu_data("Report", target))

    # -- gateway weather ------------------------------------------------------------------
    def _in_window(self, every: float, length: float) -> bool:
        since_first = time.monotonic() - self._boot - self.settings.first_incident
        return in_window(since_first, every, length)

    def _spike(self) -> bool:
        return self._in_window(self.settings.spike_period, self.settings.spike_length)

    def heartbeat(self) -> None:
        """A heartbeat sent a latency ago is acknowledged now; discord.py computes the rest."""
        keep_alive = self.bot.ws._keep_alive
        spike = self._spike() or self.slow_heartbeats
        base = 2.8 if spike else 0.045
        keep_alive._last_send = time.perf_counter() - base * self.rng.lognormvariate(0, 0.25)
        keep_alive.ack()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.heartbeat()

    async def _reconnects(self) -> None:
        every = self.settings.reconnect_every
        if every <= 0:
            return
        while True:
            await asyncio.sleep(every * self.rng.uniform(0.8, 1.2))
            await self._reconnect()

    async def _reconnect(self) -> None:
        log.warning("simulated gateway disconnect (close code 1006), resuming")
        self.reconnecting = True
        self.disconnect()
        await asyncio.sleep(self.rng.uniform(1.0, 4.0))
        self.resume()
        self.reconnecting = False

    def disconnect(self) -> None:
        """The socket drops: what ``Client.connect()`` dispatches when it does."""
        self._connected = False
        self.bot.dispatch("disconnect")

    def resume(self) -> None:
        """The session is resumed (RESUMED from the gateway)."""
        self._parse("RESUMED", {})
        self._connected = True

    async def _incidents(self) -> None:
        """Apply the schedule every second: error bursts, slow backends, a reconnect."""
        settings, conditions = self.settings, self.conditions
        bursting = spiking = False
        while True:
            burst = settings.force_burst or self._in_window(
                settings.burst_every, settings.burst_length
            )
            spike = self._spike()
            conditions.error_rate = BURST_ERROR_RATE if burst else settings.error_rate
            conditions.slow_factor = 4.0 if spike else 1.0
            conditions.backend_delay = INCIDENT_BACKEND_DELAY if spike else 0.0
            self.api.rate_limit_probability = (
                max(settings.rate_limit, INCIDENT_RATE_LIMIT) if burst else settings.rate_limit
            )
            if burst and not bursting:
                log.critical("simulated incident: the profile database is failing")
            elif bursting and not burst:
                log.info("simulated incident over")
            bursting = burst
            if spike and not spiking:
                await self._reconnect()  # the gateway drops too, as it does on a bad day
            spiking = spike
            await self.drills.apply()  # drill switches override the schedule
            await asyncio.sleep(1.0)
