"""`make up`: create .env on first run, validate everything, start the stack, wait until healthy."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from . import envfile
from .alerting import alert_timezone, check_alerting
from .alerting import render as render_alertmanager
from .checks import Problem, check_ports_free, check_settings, port_in_use
from .docker import Compose, DockerUnavailable, check_docker
from .ingest import check_ingest, ingest_url, users_line
from .profiles import enabled
from .profiles import render as render_profiles
from .secretfiles import write_secrets
from .volumes import print_report
from .zonefile import copy_zone

HEALTH_TIMEOUT = 300


def check_stack(settings: Mapping[str, str]) -> list[Problem]:
    """Every problem in the central stack's settings (`make up`)."""
    return check_settings(settings) + check_alerting(settings) + check_ingest(settings)


def load_settings(
    root: Path, out: TextIO, check: Callable[[Mapping[str, str]], list[Problem]] = check_stack
) -> tuple[dict[str, str], list[Problem]]:
    """The effective settings (.env over .env.example's defaults) and every problem `check` finds.

    Creates .env from .env.example on first run, with a random Grafana password printed once.
    """
    env_path, example = root / ".env", root / ".env.example"
    if not env_path.exists():
        password = envfile.create_from_example(example, env_path)
        print(
            "Created .env from .env.example (first run).\n"
            f"  Grafana admin password: {password}\n"
            "  It is shown only this once and stored in .env (GRAFANA_ADMIN_PASSWORD).",
            file=out,
        )
    defaults = envfile.load(example).values
    current = envfile.load(env_path)
    problems = [
        Problem(f".env line {number}", f"{why}: {text.strip()!r}")
        for number, text, why in current.malformed
    ]
    settings = {**defaults, **current.values}
    return settings, problems + check(settings)


def render(root: Path, settings: Mapping[str, str]) -> list[str]:
    """Write the secret files and the rendered configs; returns the configured channels."""
    write_secrets({**settings, "INGEST_USERS": users_line(settings)}, root / ".secrets")
    copy_zone(alert_timezone(settings), root / ".generated" / "zoneinfo")
    render_profiles(settings, root / ".generated", root)
    return render_alertmanager(settings, root / ".generated" / "alertmanager")


def report(problems: list[Problem], out: TextIO) -> None:
    print(f"Found {len(problems)} problem(s); nothing was started:", file=out)
    for problem in problems:
        print(problem, file=out)


def wait_healthy(compose: Compose, out: TextIO, timeout: float = HEALTH_TIMEOUT) -> bool:
    """Poll until every service is healthy, printing one line per service as it gets there."""
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    announced: set[str] = set()
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = compose.states()
        for service, state in sorted(states.items()):
            if state == "healthy" and service not in announced:
                announced.add(service)
                print(f"  ✓ {service:13} healthy after {time.monotonic() - start:.0f}s", file=out)
        if states and all(s == "healthy" for s in states.values()):
            return True
        if any(s in ("exited", "dead") for s in states.values()):
            break
        time.sleep(2)
    for service, state in sorted(states.items()):
        if state != "healthy":
            hint = f"see `make logs s={service}`"
            print(f"  ✗ {service:13} {state or 'not started'} — {hint}", file=out)
    return False


def start_healthy(compose: Compose, out: TextIO, what: str, *up_args: str) -> bool:
    """`docker compose up` and wait until every service is healthy, saying what went wrong."""
    if compose.run("up", "--detach", *up_args, "--remove-orphans").returncode != 0:
        print("`docker compose up` failed; its error is above.", file=out)
        return False
    print("Waiting for every service to be healthy:", file=out)
    if not wait_healthy(compose, out):
        print(f"{what} is not healthy; it is left running for diagnosis.", file=out)
        return False
    return True


def local_host(settings: Mapping[str, str]) -> str:
    """The address this machine reaches the published ports on (a wildcard bind → 127.0.0.1)."""
    host = settings.get("BIND_ADDRESS", "127.0.0.1")
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def urls(settings: Mapping[str, str]) -> list[tuple[str, str, str]]:
    host = local_host(settings)
    return (
        [
            ("Grafana", f"http://{host}:{settings['GRAFANA_PORT']}", "dashboards and logs"),
            (
                "Prometheus",
                f"http://{host}:{settings['PROMETHEUS_PORT']}",
                "metrics and alert rules",
            ),
            (
                "Alertmanager",
                f"http://{host}:{settings['ALERTMANAGER_PORT']}",
                "alerts and silences",
            ),
            ("Loki", f"http://{host}:{settings['LOKI_PORT']}", "log API (browse logs in Grafana)"),
        ]
        + (
            [
                (
                    "VictoriaMetrics",
                    f"http://{host}:{settings['VICTORIAMETRICS_PORT']}/vmui",
                    "history",
                )
            ]
            if "longterm" in enabled(settings)
            else []
        )
        + (
            [("Ingest", ingest_url(settings), "bot-host agents send here")]
            if "ingest" in enabled(settings)
            else []
        )
    )


def summary(settings: Mapping[str, str], channels: list[str], out: TextIO) -> None:
    print("\nBotwatch is up:", file=out)
    for name, url, what in urls(settings):
        print(f"  {name:13} {url:28} {what}", file=out)
    print("  Grafana login: admin / the GRAFANA_ADMIN_PASSWORD in .env", file=out)
    if channels:
        print(f"  Alerts go to: {', '.join(channels)}. Try it: make test-alert", file=out)
    else:
        print(
            "  No alert channel configured: alerts show in Alertmanager and Grafana only.\n"
            "  Set DISCORD_WEBHOOK_URL or TELEGRAM_BOT_TOKEN + TELEGRAM_CHAT_ID in .env, then "
            "`make up` again.",
            file=out,
        )


def up(
    root: Path,
    *,
    docker: str = "docker",
    out: TextIO = sys.stdout,
    in_use: Callable[[str, int], bool] = port_in_use,
) -> int:
    settings, problems = load_settings(root, out)
    compose = None
    try:
        check_docker(docker)
        compose = Compose(root, (docker, "compose"))
    except DockerUnavailable as exc:
        problems.append(Problem("Docker", str(exc)))
    # Ports our own running stack holds are not a conflict.
    running = compose.states() if compose else {}
    if not running:
        problems += check_ports_free(settings, in_use)
    if problems:
        report(problems, out)
        return 1
    assert compose is not None
    channels = render(root, settings)
    print("Starting the stack (first run builds the bot image and pulls images)…", file=out)
    if not start_healthy(compose, out, "The stack", "--build"):
        return 1
    summary(settings, channels, out)
    print_report(compose, settings, out, docker)
    return 0
