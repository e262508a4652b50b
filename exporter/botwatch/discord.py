"""discord.py hooks: commands (prefix, hybrid, slash, context menus), gateway, REST, loops.

Everything is attached to one bot instance, never to discord.py's classes:
``bot.dispatch`` (events, gateway state, command errors), ``bot.invoke`` (prefix and
hybrid commands), ``bot.tree._call`` / ``tree.on_error`` (application commands),
``bot.http.request`` plus an aiohttp trace on its session (REST calls and 429s, by
``Route.path`` template), and ``bot.add_cog`` (new commands and ``tasks.Loop``\\s).
Each hook is wrapped so an exception inside botwatch is counted, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from . import context
from .context import COMMAND, ERROR, FINISHED, ID, current, next_id
from .errors import ErrorReporter
from .health import Health
from .loop import stop_task
from .metrics import (
    COMMAND_STATUSES,
    EXEMPLAR_INTERVAL,
    Metrics,
    command_cells,
    exemplar,
    record,
)
from .tasks import TaskMonitor

# Failures that are the user's doing: Discord shows them an error, the bot is fine.
USER_ERRORS: tuple[type[Exception], ...] = (
    commands.CheckFailure,  # includes MissingPermissions, NotOwner, NoPrivateMessage, ...
    commands.UserInputError,  # includes BadArgument, MissingRequiredArgument, ...
    commands.CommandOnCooldown,
    commands.MaxConcurrencyReached,
    commands.DisabledCommand,
    app_commands.CheckFailure,  # includes app CommandOnCooldown and MissingPermissions
    app_commands.TransformerError,
)
_WRAPPERS = (commands.CommandInvokeError, app_commands.CommandInvokeError)
_CONTEXT_EVENTS = frozenset({"message", "interaction"})
LATENCY_INTERVAL = 5.0


def classify(error: BaseException) -> tuple[str, str | None]:
    """``(status, error_type)`` of a command failure, from discord.py's exception types."""
    if isinstance(error, commands.HybridCommandError):
        error = error.original
    if isinstance(error, asyncio.CancelledError):  # e.g. at shutdown: nobody's fault
        return "cancelled", None
    if isinstance(error, USER_ERRORS):
        return "user_error", None
    if isinstance(error, _WRAPPERS):
        error = error.original
    return "error", type(error).__name__


# (method, route template, timed per attempt by the trace) of the REST call in progress.
_request_route: ContextVar[tuple[str, str, bool] | None] = ContextVar(
    "botwatch_route", default=None
)


def _wrap_webhook_adapter() -> None:
    """Label interaction responses and webhook calls by their route template too.

    They bypass ``HTTPClient.request``: discord.py sends them through the process-wide
    ``AsyncWebhookAdapter`` on the bot's own session, so our session trace sees them
    once the route is known. Wrapping the shared adapter once only sets that context;
    counting stays with each bot's own trace.
    """
    from discord.webhook.async_ import async_context

    adapter = async_context.get()
    if getattr(adapter, "_botwatch", False):
        return
    original = adapter.request

    async def request(route: discord.http.Route, *args: Any, **kwargs: Any) -> Any:
        token = _request_route.set((route.method, route.path, True))
        try:
            return await original(route, *args, **kwargs)
        finally:
            _request_route.reset(token)

    adapter.request = request  # type: ignore[method-assign]
    adapter._botwatch = True  # type: ignore[attr-defined]


def _rate_limit_scope(headers: Any) -> str:
    scope = headers.get("X-RateLimit-Scope")
    if scope in ("user", "global", "shared"):
        return scope
    return "global" if headers.get("X-RateLimit-Global", "").lower() == "true" else "user"


def _note_error(error: BaseException) -> None:
    """Remember the first error discord.py reports for the command running in this context."""
    scope = current.get()
    # A scope without a command is a message's: CommandNotFound and the like land there.
    if scope is not None and scope[context.COMMAND] is not None and scope[context.ERROR] is None:
        scope[context.ERROR] = error


def _note_command_error(args: tuple[Any, ...]) -> None:
    # ext.commands reports a failed prefix or hybrid command only by dispatching
    # "command_error" (from inside the invocation, so its context is ours).
    if len(args) > 1:
        _note_error(args[1])


def _payload_name(data: Any) -> str | None:
    """The qualified command name an interaction payload asks for (subcommands joined)."""
    if not data:
        return None
    name = data.get("name")
    options = data.get("options")
    # Option types 1 and 2 are a subcommand and a subcommand group.
    while options and options[0].get("type") in (1, 2):
        name = f"{name} {options[0]['name']}"
        options = options[0].get("options")
    return name


class DiscordInstrumentation:
    """Attaches botwatch to one discord.py ``Client``/``Bot``/``AutoShardedBot``."""

    def __init__(
        self,
        metrics: Metrics,
        errors: ErrorReporter,
        health: Health,
        tasks: TaskMonitor,
        command_scope: Callable[[str, str], contextlib.AbstractContextManager[Any]] | None = None,
    ) -> None:
        self._m = metrics
        self._errors = errors
        self._health = health
        self._tasks = tasks
        self.command_scope = command_scope
        self.bot: discord.Client | None = None
        self._connected: dict[str, bool] = {}
        # status -> command name -> its value cells (metrics.command_cells), admitted names only.
        self._command_cells: dict[str, dict[str, tuple]] = {
            status: {} for status in COMMAND_STATUSES
        }
        self._succeeded = self._command_cells["success"]
        self._app_names: set[str] = set()  # application command names the tree resolved
        self._latency_task: asyncio.Task[None] | None = None
        self._trace = aiohttp.TraceConfig()
        self._trace.on_request_start.append(self._on_request_start)
        self._trace.on_request_end.append(self._on_request_end)
        self._trace.on_request_exception.append(self._on_request_exception)
        self._trace.freeze()
        self._gateway_handlers: dict[str, Callable[[tuple[Any, ...]], None]] = {}

    # -- attaching ------------------------------------------------------------------------
    def instrument(self, bot: discord.Client) -> discord.Client:
        """Hook ``bot``; safe to call before or after login. Returns the bot."""
        if getattr(bot, "_botwatch", None) is not None:
            return bot
        self.bot = bot
        bot._botwatch = self  # type: ignore[attr-defined]
        sharded = isinstance(bot, discord.AutoShardedClient)
        self._gateway_handlers = self._make_gateway_handlers(sharded)
        self._gateway_handlers["command_error"] = _note_command_error
        self._wrap_dispatch(bot)
        if isinstance(bot, commands.bot.BotBase):
            self._wrap_invoke(bot)
            self._wrap_add_cog(bot)
            for cog in list(bot.cogs.values()):
                self._tasks.watch_object(cog)
        tree = getattr(bot, "tree", None)
        if isinstance(tree, app_commands.CommandTree):
            self._wrap_tree(tree)
        self.instrument_http(bot.http)
        with self._errors.guard("http"):
            _wrap_webhook_adapter()
        self.bind_commands()
        self._m.set_safe_function(
            self._m.guilds, lambda: len(bot.guilds), lambda e: self._errors.report("gateway", e)
        )
        self._health.gateway = self.gateway_connected
        return bot

    def bind_commands(self) -> None:
        """Create series for every command the bot knows now (prefix, hybrid, slash, menus)."""
        bot = self.bot
        with self._errors.guard("commands"):
            if isinstance(bot, commands.bot.BotBase):
                for command in bot.walk_commands():
                    self._m.bind_command(command.qualified_name)
            tree = getattr(bot, "tree", None)
            if isinstance(tree, app_commands.CommandTree):
                for app_command in tree.walk_commands():
                    self._m.bind_command(app_command.qualified_name)
                for kind in (discord.AppCommandType.user, discord.AppCommandType.message):
                    for menu in tree.get_commands(type=kind):
                        self._m.bind_command(menu.qualified_name)

    def _wrap_dispatch(self, bot: discord.Client) -> None:
        original = bot.dispatch
        handlers = self._gateway_handlers
        events = self._m.events

        def dispatch(event_name: str, /, *args: Any, **kwargs: Any) -> None:
            try:
                events.labels(event_name).inc()
                handler = handlers.get(event_name)
                if handler is not None:
                    handler(args)
            except Exception as exc:
                self._errors.report("gateway", exc)
            if event_name in _CONTEXT_EVENTS:
                # Listener tasks created now copy this context: their logs share the id.
                token = current.set(context.new_scope(reuse=False))
                try:
                    return original(event_name, *args, **kwargs)
                finally:
                    current.reset(token)
            return original(event_name, *args, **kwargs)

        bot.dispatch = dispatch  # type: ignore[method-assign]
        # ConnectionState captured the bound method at construction; gateway events use it.
        state = getattr(bot, "_connection", None)
        if state is not None and getattr(state, "dispatch", None) == original:
            state.dispatch = dispatch

    def _wrap_invoke(self, bot: commands.Bot) -> None:
        original = bot.invoke

        # Plain functions returning the coroutine: callers await it, and no extra
        # coroutine frame is paid per command.
        def invoke(ctx: commands.Context, /) -> Awaitable[None]:
            command = ctx.command
            if command is None:
                return original(ctx)
            # qualified_name joins the parents' names on every access; most have none.
            name = command.name if command.parent is None else command.qualified_name
            return self._run(name, original, ctx)

        bot.invoke = invoke  # type: ignore[method-assign]

    def _wrap_tree(self, tree: app_commands.CommandTree) -> None:
        original = tree._call
        application_command = discord.InteractionType.application_command
        known = self._app_names

        def call(interaction: discord.Interaction, /) -> Awaitable[None]:
            if interaction.type is not application_command:
                return original(interaction)
            # Resolving interaction.command repeats the tree lookup that discord.py's _call
            # does anyway (µs per command), so the name comes from the payload, trusted once
            # the tree has resolved it. A command removed from the tree later stays counted.
            name = _payload_name(interaction.data)
            if name not in known:
                name = self._resolve_app_command(interaction)
                if name is None:
                    return original(interaction)
            if not getattr(tree.on_error, "_botwatch", False):
                self._wrap_on_error(tree)  # again: @tree.error replaces the attribute
            return self._run(name, original, interaction)

        tree._call = call  # type: ignore[method-assign]
        self._wrap_on_error(tree)

    def _resolve_app_command(self, interaction: discord.Interaction) -> str | None:
        """The command's qualified name from the tree; None when the tree does not know it."""
        try:
            command = interaction.command
        except Exception:  # unknown to the tree: discord.py reports CommandNotFound itself
            return None
        if command is None:
            return None
        self._app_names.add(command.qualified_name)
        return command.qualified_name

    @staticmethod
    def _wrap_on_error(tree: app_commands.CommandTree) -> None:
        original = tree.on_error

        async def on_error(interaction: discord.Interaction, error: Exception, /) -> None:
            _note_error(error)
            await original(interaction, error)

        on_error._botwatch = True  # type: ignore[attr-defined]
        tree.on_error = on_error  # type: ignore[method-assign]

    def _wrap_add_cog(self, bot: commands.Bot) -> None:
        original = bot.add_cog

        async def add_cog(cog: commands.Cog, /, **kwargs: Any) -> None:
            await original(cog, **kwargs)
            self._tasks.watch_object(cog)
            self.bind_commands()

        bot.add_cog = add_cog  # type: ignore[method-assign]

    # -- commands -------------------------------------------------------------------------
    async def _run(
        self,
        name: str,
        original: Callable[[Any], Awaitable[None]],
        arg: Any,
    ) -> None:
        """Run one command (``arg`` is its Context or Interaction) inside its scopes."""
        # discord.py runs each command in a task of its own (a message listener's or the
        # tree's invoker) on a copy of the context: the scope is set there and never reset,
        # only marked finished, so that a later command in the same task (a caller's own
        # loop) gets a new id. Inside the message's scope (opened by dispatch, shared by its
        # listeners) the command takes it over, keeping its id; only a command invoked from
        # inside a running one nests, and is reset.
        scope = current.get()
        token = None
        if scope is None or scope[ERROR] is FINISHED:
            scope = [next_id(), name, None]
            current.set(scope)
        elif scope[COMMAND] is None:
            scope[COMMAND] = name
            scope[ERROR] = None
        else:
            scope = [scope[ID], name, None]
            token = current.set(scope)
        sentry = None if self.command_scope is None else self._enter_sentry(name, scope)
        started = perf_counter()
        raised: BaseException | None = None
        try:
            await original(arg)
        except BaseException as exc:
            raised = exc
            raise
        finally:
            finished = perf_counter()
            duration = finished - started
            error = scope[ERROR] or raised
            # interaction_check() returning False fails a command without an error.
            if error is None and not arg.command_failed:
                status = "success"
                try:
                    # record_command, inlined for the common case.
                    cells = self._succeeded.get(name)
                    if cells is None:  # a name first seen, or past the cap: the general path
                        self.record_command(name, status, duration)
                        cells = self._succeeded.get(name)  # cached now unless past the cap
                        if cells is not None:
                            bucket = bisect_left(cells[3], duration)
                            self._exemplify(cells, bucket, duration, finished, scope, sentry)
                    else:
                        cells[0].inc(1)
                        cells[1].inc(duration)
                        bucket = bisect_left(cells[3], duration)
                        cells[2][bucket].inc(1)
                        if finished - cells[4][bucket] >= EXEMPLAR_INTERVAL:
                            self._exemplify(cells, bucket, duration, finished, scope, sentry)
                except Exception as exc:
                    self._errors.report("commands", exc)
            else:
                status = self._finish_failed(name, error, duration, arg)
            if sentry is not None:
                self._exit_sentry(sentry, status)
            if token is None:
                scope[ERROR] = FINISHED
            else:
                current.reset(token)

    @staticmethod
    def _exemplify(
        cells: tuple, bucket: int, duration: float, now: float, scope: list, sentry: Any
    ) -> None:
        """Give the command's bucket an exemplar: its correlation id, its trace id if sampled
        (the command scope's: OpenTelemetry's span when on, else Sentry's transaction)."""
        cells[4][bucket] = now
        transaction = None if sentry is None else sentry[1]
        trace_id = transaction.trace_id if transaction is not None and transaction.sampled else None
        cells[2][bucket].set_exemplar(exemplar(context.correlation_id(scope), trace_id, duration))

    def _finish_failed(
        self, name: str, error: BaseException | None, duration: float, arg: Any
    ) -> str:
        """Classify and record a command that did not succeed; its status."""
        try:
            if error is not None:
                status, error_type = classify(error)
            elif isinstance(arg, commands.Context):
                # ext.commands swallows a cancelled command's CancelledError, leaving only
                # ctx.command_failed set (discord/ext/commands/core.py, hooked_wrapped_callback).
                status, error_type = "cancelled", None
            else:  # interaction_check() returned False: refused, the user's side
                status, error_type = "user_error", None
            self.record_command(name, status, duration, error_type)
            return status
        except Exception as exc:
            self._errors.report("commands", exc)
            return "error"

    def _enter_sentry(self, name: str, scope: list[Any]) -> tuple[Any, Any] | None:
        """Open the command's Sentry scope and transaction: ``(scope, transaction)``."""
        try:
            sentry_scope = self.command_scope(name, context.correlation_id(scope))
            return sentry_scope, sentry_scope.__enter__()
        except Exception as exc:
            self._errors.report("sentry", exc)
            return None

    def _exit_sentry(self, sentry: tuple[Any, Any], status: str) -> None:
        sentry_scope, transaction = sentry
        try:
            transaction.set_status("ok" if status == "success" else "internal_error")
            sentry_scope.__exit__(None, None, None)
        except Exception as exc:
            self._errors.report("sentry", exc)

    def record_command(
        self, name: str, status: str, duration: float, error_type: str | None = None
    ) -> None:
        """Count one finished command (for a known command: two dict lookups)."""
        cells = self._command_cells[status].get(name)
        if cells is None:
            cells = self._bind_command(name, status)
        record(cells, duration)
        if error_type is not None:
            self._m.command_errors.labels(name, error_type).inc()

    def _bind_command(self, name: str, status: str) -> tuple:
        commands_family = self._m.commands
        cells = command_cells(
            commands_family.labels(name, status), self._m.command_duration.labels(name)
        )
        # Only admitted names are remembered, so unbounded input cannot grow the cache
        # and every collapse into "other" keeps being counted.
        if commands_family.admits((name, status)):
            self._command_cells[status][name] = cells
        return cells

    # -- gateway --------------------------------------------------------------------------
    def _make_gateway_handlers(self, sharded: bool) -> dict[str, Callable[[tuple], None]]:
        def shard_of(args: tuple) -> str:
            return str(args[0]) if args else "0"

        def own_shard(_: tuple) -> str:
            return str(getattr(self.bot, "shard_id", None) or 0)

        # AutoShardedClient dispatches both "connect" and "shard_connect": heed only the
        # shard_* events, which name their shard.
        prefix, pick = ("shard_", shard_of) if sharded else ("", own_shard)

        def transition(connected: bool, counter=None) -> Callable[[tuple], None]:
            def handler(args: tuple) -> None:
                shard = pick(args)
                self._set_connected(shard, connected)
                if counter is not None:
                    counter.labels(shard).inc()

            return handler

        return {
            f"{prefix}connect": transition(True),
            f"{prefix}ready": transition(True),
            f"{prefix}disconnect": transition(False, self._m.gateway_disconnects),
            f"{prefix}resumed": transition(True, self._m.gateway_resumes),
        }

    def _set_connected(self, shard: str, connected: bool) -> None:
        if shard not in self._connected:
            # A new shard's counters start at 0 now, so rate() works from its first disconnect.
            self._m.gateway_disconnects.labels(shard)
            self._m.gateway_resumes.labels(shard)
        self._connected[shard] = connected
        self._m.gateway_connected.labels(shard).set(1 if connected else 0)

    def gateway_connected(self) -> bool:
        """True while every shard seen so far is connected and the client is open."""
        bot = self.bot
        return (
            bot is not None
            and not bot.is_closed()
            and bool(self._connected)
            and all(self._connected.values())
        )

    def sample_latency(self) -> None:
        """Set ``gateway_latency_seconds`` for every shard with a finite latency."""
        bot = self.bot
        if isinstance(bot, discord.AutoShardedClient):
            latencies = bot.latencies
        else:
            latencies = [(getattr(bot, "shard_id", None) or 0, bot.latency)]
        for shard, latency in latencies:
            if math.isfinite(latency):
                self._m.gateway_latency.labels(str(shard)).set(latency)

    async def _latency_loop(self) -> None:
        while True:
            with self._errors.guard("gateway"):
                self.sample_latency()
            await asyncio.sleep(LATENCY_INTERVAL)

    def start(self) -> None:
        """Start sampling gateway latency in the running loop."""
        if self.bot is not None and self._latency_task is None:
            self._latency_task = asyncio.get_running_loop().create_task(
                self._latency_loop(), name="botwatch-gateway-latency"
            )

    async def stop(self) -> None:
        """Stop the latency sampler."""
        task, self._latency_task = self._latency_task, None
        await stop_task(task)

    # -- REST -----------------------------------------------------------------------------
    def instrument_http(self, http: discord.http.HTTPClient) -> None:
        """Time ``http.request`` by route template and trace each response on its session."""
        if getattr(http, "_botwatch", False):
            return
        http._botwatch = True  # type: ignore[attr-defined]
        original = http.request
        duration = self._m.request_duration

        async def request(route: discord.http.Route, /, **kwargs: Any) -> Any:
            token = _request_route.set((route.method, route.path, False))
            started = perf_counter()
            try:
                return await original(route, **kwargs)
            finally:
                _request_route.reset(token)
                with self._errors.guard("http"):
                    duration.labels(route.method, route.path).observe(perf_counter() - started)

        http.request = request  # type: ignore[method-assign]
        original_login = http.static_login

        async def static_login(*args: Any, **kwargs: Any) -> Any:
            result = await original_login(*args, **kwargs)
            self._attach_trace(http)
            return result

        http.static_login = static_login  # type: ignore[method-assign]
        if http.http_trace is None:
            http.http_trace = self._trace  # the session made at login starts traced
        self._attach_trace(http)

    def _attach_trace(self, http: discord.http.HTTPClient) -> None:
        # discord.py creates its aiohttp session in static_login() with at most one
        # http_trace; when the user has their own, ours joins the session's list after.
        session = getattr(http, "_HTTPClient__session", None)
        if isinstance(session, aiohttp.ClientSession):
            traces = session._trace_configs
            if self._trace not in traces:
                traces.append(self._trace)

    async def _on_request_start(self, _session, ctx, _params) -> None:
        ctx.botwatch_started = perf_counter()

    def _count_response(self, ctx: Any, status: str, headers: Any = None) -> None:
        key = _request_route.get()
        if key is None:  # not a Discord API call (a CDN download, say)
            return
        with self._errors.guard("http"):
            method, route, timed_here = key
            self._m.requests.labels(method, route, status).inc()
            if status == "429":
                scope = _rate_limit_scope(headers)
                self._m.rate_limits.labels(method, route, scope).inc()
            if timed_here:  # webhook adapter calls: no request() wrapper timed them
                elapsed = perf_counter() - ctx.botwatch_started
                self._m.request_duration.labels(method, route).observe(elapsed)

    async def _on_request_end(self, _session, ctx, params: aiohttp.TraceRequestEndParams):
        self._count_response(ctx, str(params.response.status), params.response.headers)

    async def _on_request_exception(self, _session, ctx, _params) -> None:
        self._count_response(ctx, "error")
