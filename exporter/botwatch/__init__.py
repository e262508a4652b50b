"""Botwatch: metrics, health endpoints, JSON logs and Sentry for discord.py bots.

Wire a bot in a few lines::

    import botwatch

    obs = botwatch.setup(service="mybot")  # JSON logs, metrics, Sentry if SENTRY_DSN is set
    obs.instrument(bot)                    # commands, gateway, REST, tasks loops

    async def main():
        async with bot, obs:               # /metrics and /health/* on BOTWATCH_PORT
            await bot.start(token)
"""

from __future__ import annotations

from .config import Settings
from .logging import loguru_sink
from .observability import Observability, setup

__version__ = "0.1.0"

__all__ = ["Observability", "Settings", "__version__", "loguru_sink", "setup"]
