"""``botwatch.setup()`` and the object it returns: the library's one entry point."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, Unpack

from aiohttp import web
from prometheus_client import CollectorRegistry

from . import config
from . import logging as bw_logging
from . import otel as bw_otel
from . import sentry as bw_sentry
from .errors import ErrorReporter
from .health import Health
from .loop import LoopLagMonitor
from .metrics import Metrics
from .server import Scrapes, Server, add_routes
from .tasks import TaskMonitor
from .track import Operations, Tracked

if TYPE_CHECKING:  # chatops needs discord.py, an optional dependency
    from .chatops import ChatOpsOptions

log = logging.getLogger("botwatch")


def _discord_version() -> str:
    try:
        import discord
    except ImportError:
        return "none"
    return discord.__version__


# How long close() waits for a scrape to carry the shutdown announcement: within Compose's stop
# grace period (compose.yaml gives the bot 30s), above a 10s scrape interval's 1.5x.
SHUTDOWN_ANNOUNCE_SECONDS = 20.0


class _Statuses:
    """The values two command scopes yielded (Sentry's transaction, then OpenTelemetry's span),
    taking ``set_status`` together. Their ``trace_id`` and ``sampled`` are the span's: with both
    on, log lines and exemplars carry the OpenTelemetry trace id (otel.py)."""

    __slots__ = ("_last", "_values")

    def __init__(self, *values: Any) -> None:
        self._values = values
        self._last = values[-1]

    def set_status(self, status: str) -> None:
        for value in self._values:
            value.set_status(status)

    @property
    def trace_id(self) -> str:
        return self._last.trace_id

    @property
    def sampled(self) -> bool:
        return self._last.sampled


def _together(first: Callable | None, second: Callable | None) -> Callable | None:
    """One scope factory entering Sentry's and OpenTelemetry's scopes (either may be None)."""
    if first is None or second is None:
        return first or second

    @contextlib.contextmanager
    def both(*args: Any):
        with first(*args) as one, second(*args) as two:
            yield _Statuses(one, two)

    return both


class Observability:
    """Everything ``setup()`` wired: metrics, health, logs, Sentry, and the hooks for a bot."""

    def __init__(
        self,
        settings: config.Settings,
        *,
        registry: CollectorRegistry | None = None,
        app: web.Application | None = None,
        log_stream: IO[str] | None = None,
        logger: logging.Logger | None = None,
        configure_logging: bool = True,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics(
            namespace=settings.namespace, registry=registry, label_limit=settings.label_limit
        )
        self.registry = self.metrics.registry
        self.errors = ErrorReporter(self.metrics.errors)
        self.metrics.set_build_info(
            version=settings.version, revision=settings.revision, discord_py=_discord_version()
        )
        self.health = Health(self.metrics.ready)
        self.lag = LoopLagMonitor(self.metrics.loop_lag, self.errors)
        self.tasks = TaskMonitor(self.metrics, self.errors)
        self.log_handler: bw_logging.LogHandler | None = None
        if configure_logging:
            self._configure_logging(log_stream, logging.getLogger() if logger is None else logger)
        self.sentry = bw_sentry.init(settings)
        if self.sentry is not None and self.log_handler is not None:
            self.log_handler.before_emit = self.sentry.capture_log
        self.tracing = bw_otel.init(settings)
        self.operations = Operations(
            self.metrics,
            self.errors,
            _together(
                self.sentry.span if self.sentry else None,
                self.tracing.span if self.tracing else None,
            ),
            # An operation's exemplar carries the trace id its log lines carry.
            self.tracing.trace_id
            if self.tracing
            else self.sentry.sampled_trace_id
            if self.sentry
            else None,
        )
        self._discord: Any = None
        self._chatops: Any = None
        self._running = False
        self.app = web.Application() if app is None else app
        self.scrapes = Scrapes()
        add_routes(
            self.app, registry=self.registry, health=self.health, lag=self.lag, scrapes=self.scrapes
        )
        # An injected app is served by its owner; ours by our own runner.
        self.server = (
            Server(self.app, host=settings.host, port=settings.port, errors=self.errors)
            if app is None
            else None
        )

    def _configure_logging(self, stream: IO[str] | None, root: logging.Logger) -> None:
        for handler in list(root.handlers):
            if isinstance(handler, bw_logging.LogHandler):
                root.removeHandler(handler)
        bw_logging.install_record_factory()
        self.log_handler = bw_logging.LogHandler(
            formatter=bw_logging.JsonFormatter(
                service=self.settings.service, env=self.settings.env
            ),
            counter=self.metrics.log_records,
            errors=self.errors,
            stream=stream,
        )
        root.addHandler(self.log_handler)
        root.setLevel(self.settings.log_level)

    # -- public API -----------------------------------------------------------------------
    def instrument(self, bot: Any) -> Any:
        """Instrument a discord.py ``Client``, ``Bot`` or ``AutoShardedBot``; returns it.

        Counts and times prefix, hybrid, slash and context-menu commands (status from
        discord.py's exception types), gateway events, connection state and latency per
        shard, guilds, Discord REST calls by route template with 429s, and the
        ``discord.ext.tasks`` loops of its cogs. Call it before ``bot.start()``.
        """
        try:
            from .discord import DiscordInstrumentation
        except ImportError as exc:
            raise ImportError(
                "obs.instrument() needs discord.py: pip install 'botwatch[discord]'"
            ) from exc

        if self._discord is None:
            self._discord = DiscordInstrumentation(
                self.metrics,
                self.errors,
                self.health,
                self.tasks,
                _together(
                    self.sentry.command if self.sentry else None,
                    self.tracing.command if self.tracing else None,
                ),
            )
        self._discord.instrument(bot)
        if self._running:
            self._discord.start()  # instrumented after start(), e.g. from setup_hook
        return bot

    def add_chatops(
        self,
        bot: Any,
        *,
        alertmanager_urls: Sequence[str],
        alertmanager_auth: tuple[str, str] | None = None,
        alertmanager_timeout: float = 10.0,
        **options: Unpack[ChatOpsOptions],
    ) -> Any:
        """Add the ``/botwatch`` slash-command group to ``bot.tree``; returns the ``ChatOps``.

        ``status`` (this bot's health, from botwatch's own state), ``alerts`` (firing now),
        ``silence <alert> <duration> [reason]`` and ``unsilence <id>`` (Alertmanager silences,
        ``createdBy`` the Discord user, each logged as a JSON audit line). ``alertmanager_urls``:
        one Alertmanager or every member of an HA pair, tried in order;
        ``alertmanager_auth``: ``(user, password)`` for one behind an authenticated entry point;
        ``alertmanager_timeout``: seconds per address (10; a bcrypt password check at the entry
        point can take seconds on a busy host — the reply is deferred, so Discord waits).
        Only members with one of ``silence_roles`` (ids or names) or ``silence_permissions``
        (discord.py permission names, default ``("manage_guild",)``) may (un)silence. Replies
        are ephemeral unless ``ephemeral=False``. ``grafana_url``/``runbook_base_url`` turn the
        alerts' ``dashboard_url``/``runbook_url`` paths into links; ``slo_objective`` (0.995)
        is the SLO the status compares the error ratio with. Sync the tree as for any slash
        command (``await bot.tree.sync()``).

        Example::

            obs.add_chatops(
                bot,
                alertmanager_urls=["https://alerts.example.org"],
                alertmanager_auth=("bot", os.environ["ALERTMANAGER_PASSWORD"]),
                silence_roles=["On call"],
            )
        """
        try:
            from .alertmanager import AlertmanagerClient
            from .chatops import ChatOps
        except ImportError as exc:
            raise ImportError(
                "obs.add_chatops() needs discord.py: pip install 'botwatch[discord]'"
            ) from exc

        ops = ChatOps(
            bot,
            AlertmanagerClient(
                alertmanager_urls, auth=alertmanager_auth, timeout=alertmanager_timeout
            ),
            service=self.settings.service,
            health=self.health,
            lag=self.lag,
            metrics=self.metrics,
            **options,
        )
        bot.tree.add_command(ops.group)
        self._chatops = ops
        if self._running:
            ops.start()
        return ops

    def track(self, name: str) -> Tracked:
        """Time an operation: ``with``/``async with obs.track("db.query"):`` or ``@obs.track(...)``.

        Counts ``operations_total{operation, status}`` (``success`` or ``error``) and observes
        ``operation_duration_seconds``; inside a command it is also a Sentry span.
        """
        return self.operations.track(name)

    def add_readiness_check(self, name: str, check: Callable[[], Awaitable[Any]]) -> None:
        """Make ``/health/ready`` depend on ``await check()`` (fails on raise, timeout, False)."""
        self.health.add_check(name, check)

    def watch_loop(self, loop: Any, name: str | None = None) -> Any:
        """Export heartbeats for a ``discord.ext.tasks.Loop`` not defined on a cog."""
        return self.tasks.watch(loop, name)

    def task_iteration(self, name: str, interval: float | None = None):
        """Mark one iteration of any background loop: ``with obs.task_iteration("sync", 60):``."""
        return self.tasks.iteration(name, interval)

    @property
    def port(self) -> int | None:
        """The port actually served (useful with ``port=0``), or None without a server."""
        return self.server.port if self.server is not None else None

    async def start(self) -> bool:
        """Start the server and the samplers in the running loop; False if the port failed."""
        self._running = True
        self.lag.start()
        if self._discord is not None:
            self._discord.start()
        if self._chatops is not None:
            self._chatops.start()
        await self.health.evaluate()
        self.health.start()
        return await self.server.start() if self.server is not None else True

    async def __aenter__(self) -> Observability:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Announce a planned stop, stop serving, stop the samplers, flush Sentry.

        The announcement (``bot_stopping`` 1) waits for the next scrape, at most
        SHUTDOWN_ANNOUNCE_SECONDS, so that Prometheus sees it before /metrics goes away: the
        BotDown alert then waits 5 minutes for the bot to come back instead of paging at once.
        """
        self._running = False
        self.metrics.stopping.set(1)
        await self.scrapes.next(SHUTDOWN_ANNOUNCE_SECONDS)
        if self.server is not None:
            await self.server.close()
        await self.lag.stop()
        await self.health.stop()
        if self._discord is not None:
            await self._discord.stop()
        if self._chatops is not None:
            await self._chatops.close()
        if self.sentry is not None:
            await asyncio.to_thread(self.sentry.flush, 2.0)
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)
        if self.log_handler is not None:
            await asyncio.to_thread(self.log_handler.flush)


def setup(
    service: str | None = None,
    *,
    registry: CollectorRegistry | None = None,
    app: web.Application | None = None,
    log_stream: IO[str] | None = None,
    logger: logging.Logger | None = None,
    configure_logging: bool = True,
    **settings: Unpack[config.SettingsArgs],
) -> Observability:
    """Set up metrics, JSON logging, health endpoints and (with a DSN) Sentry.

    Settings are keyword arguments; each falls back to an environment variable, then a
    default: ``service`` ← ``BOTWATCH_SERVICE`` (``bot``), ``port`` ← ``BOTWATCH_PORT``
    (8000), ``host`` ← ``BOTWATCH_HOST`` (127.0.0.1), ``namespace`` ←
    ``BOTWATCH_NAMESPACE`` (``bot``), ``label_limit`` ← ``BOTWATCH_LABEL_LIMIT`` (200),
    ``log_level`` ← ``LOG_LEVEL`` (INFO), ``env`` ← ``BOTWATCH_ENV``,
    ``version``/``revision`` ← ``BOTWATCH_VERSION``/``BOTWATCH_REVISION``,
    ``sentry_dsn``/``sentry_environment``/``sentry_traces_sample_rate`` ← ``SENTRY_DSN``,
    ``SENTRY_ENVIRONMENT``, ``SENTRY_TRACES_SAMPLE_RATE`` (0.05).

    ``registry`` defaults to prometheus-client's global one; pass a fresh
    ``CollectorRegistry()`` to isolate (process and GC collectors are added to it).
    ``app``: mount the endpoints on your own aiohttp application instead of serving them.
    ``log_stream``: where JSON lines go (stdout); ``logger``: the logger that gets the
    JSON handler (the root logger, so every library's records are included);
    ``configure_logging=False`` leaves logging alone.

    Example::

        obs = botwatch.setup(service="mybot")
        obs.instrument(bot)
        with obs.track("db.query"):
            ...
        obs.add_readiness_check("database", db.ping)
    """
    return Observability(
        config.resolve(service=service, **settings),
        registry=registry,
        app=app,
        log_stream=log_stream,
        logger=logger,
        configure_logging=configure_logging,
    )
