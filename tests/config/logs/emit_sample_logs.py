"""Write a few log records through the real botwatch library and print its JSON lines.

Run as a separate process (the library configures the root logger and Sentry globally):
`python emit_sample_logs.py <sentry-dsn> [extra-key ...]`. The DSN should point at a closed local
port: events get their ids (which land on the lines) and are then dropped. Each extra key is
logged once as a free-form `extra=` field.
"""

from __future__ import annotations

import io
import logging
import sys

import botwatch
import sentry_sdk
from botwatch import context
from prometheus_client import CollectorRegistry


def main(dsn: str, extra: list[str]) -> None:
    out = io.StringIO()
    obs = botwatch.setup(
        service="contract", env="test", registry=CollectorRegistry(), log_stream=out,
        log_level="DEBUG", sentry_dsn=dsn, sentry_traces_sample_rate=1.0,
    )  # fmt: skip
    # Sentry's transport thread sends (and logs through urllib3) at its own pace: its lines would
    # make the output depend on timing.
    logging.getLogger("urllib3").setLevel(logging.CRITICAL)
    log = logging.getLogger("contract.bot")
    log.debug("a debug line")
    log.info("a plain line", extra=dict.fromkeys(extra, 1))
    # What the discord.py integration does around each command.
    with context.scope(command_name="ping") as cid, obs.sentry.command("ping", cid):
        log.warning("inside a command")
        try:
            1 / 0  # noqa: B018 (the point is the exception)
        except ZeroDivisionError:
            log.exception("the command failed")
    log.critical("giving up")
    sentry_sdk.get_client().close(timeout=0)
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
