"""``python -m botwatch.demo``: run the demo bot until SIGTERM or SIGINT.

Without ``DISCORD_TOKEN`` a simulated Discord drives the bot offline (see
``traffic.py`` and ``settings.py`` for the ``BOTWATCH_DEMO_*`` knobs); with it,
the same bot connects to Discord for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

import botwatch
from botwatch.config import setting

from .bot import DemoBot, make_intents
from .settings import DemoSettings
from .traffic import OfflineDiscord

log = logging.getLogger("demo")


async def run() -> int:
    """Start botwatch and the bot; stop cleanly on the first SIGTERM/SIGINT.

    Returns the exit status: 0 after a signal, 1 if the bot itself stopped with an error
    (a bad token, say), so a supervisor sees the failure.
    """
    # The service name comes from BOTWATCH_SERVICE (default "bot"), as for any bot.
    obs = botwatch.setup(version=os.environ.get("BOTWATCH_VERSION") or botwatch.__version__)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    bot = DemoBot(obs, intents=make_intents())
    await obs.start()
    token = setting("DISCORD_TOKEN")
    offline: OfflineDiscord | None = None
    if token:
        log.info("DISCORD_TOKEN set: connecting to Discord")
        work = asyncio.create_task(bot.start(token))
    else:
        offline = OfflineDiscord(bot, DemoSettings.from_env())
        await offline.connect()
        log.info("no DISCORD_TOKEN: simulating traffic offline")
        work = asyncio.create_task(offline.run())
    stopping = asyncio.create_task(stop.wait())
    status = 0
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if work.done() and not work.cancelled() and work.exception() is not None:
            log.critical("demo bot stopped", exc_info=work.exception())
            status = 1
    finally:
        log.info("shutting down")
        stopping.cancel()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        if offline is not None:
            await offline.close()
        else:
            await bot.close()
        await obs.close()
        log.info("stopped")
    return status


def main() -> None:
    """Console entry point."""
    sys.exit(asyncio.run(run()))


if __name__ == "__main__":
    main()
