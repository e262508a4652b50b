"""Validation of every .env setting: each problem is one line naming the setting and the fix."""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .profiles import enabled

PORT_KEYS = (
    "GRAFANA_PORT",
    "PROMETHEUS_PORT",
    "ALERTMANAGER_PORT",
    "LOKI_PORT",
    "VICTORIAMETRICS_PORT",
)
# Ports published only by an optional profile's service: free only needs checking when it runs.
PROFILE_PORTS = {"VICTORIAMETRICS_PORT": "longterm"}
# VictoriaMetrics' -retentionPeriod: a bare number of months, or of days, weeks or years (its own
# "m" means minutes, and hours invite a retention shorter than its one-day minimum).
VM_RETENTION_RE = re.compile(r"^[1-9]\d*[dwy]?$")
DISCORD_WEBHOOK_RE = re.compile(
    r"^https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/\d{15,25}/[\w-]{20,}$"
)
TELEGRAM_TOKEN_RE = re.compile(r"^\d{5,15}:[A-Za-z0-9_-]{30,}$")
CHAT_ID_RE = re.compile(r"^-?\d{1,20}$")
DISCORD_TOKEN_RE = re.compile(r"^[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}$")
SENTRY_DSN_RE = re.compile(r"^https?://[^@/\s]+@[^/\s]+/(?:[^/\s]+/)*\d+$")
PROM_DURATION_RE = re.compile(r"^(?:\d+(?:ms|[smhdwy]))+$")
PROM_SIZE_RE = re.compile(r"^\d+(?:B|KB|MB|GB|TB|PB|EB)$")
LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass(frozen=True)
class Problem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"  ✗ {self.key}: {self.message}"


def seconds(duration: str) -> float:
    """Seconds in a Prometheus-style duration such as 1m30s or 500ms."""
    return sum(
        int(n) * DURATION_SECONDS[unit] for n, unit in re.findall(r"(\d+)(ms|[smhdwy])", duration)
    )


def is_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not re.search(r"\s", value)


def _bool(key: str, value: str) -> list[Problem]:
    if value.lower() in ("true", "false"):
        return []
    return [Problem(key, f"must be true or false, not {value!r}")]


# Optional secrets: when set, the value must have the shape the service issues ({value}: the value).
SHAPES = {
    "DISCORD_WEBHOOK_URL": (
        DISCORD_WEBHOOK_RE,
        "is not a Discord webhook URL; copy it from Server Settings → Integrations → Webhooks "
        "(https://discord.com/api/webhooks/<id>/<token>), or leave it empty",
    ),
    "TELEGRAM_BOT_TOKEN": (
        TELEGRAM_TOKEN_RE,
        "is not a bot token; @BotFather gives one like 123456789:AAE… (digits, a colon, "
        "35 letters), or leave it empty",
    ),
    "TELEGRAM_CHAT_ID": (
        CHAT_ID_RE,
        "must be a numeric chat id (groups are negative, e.g. -1001234567890), not {value!r}; "
        "@userinfobot tells yours",
    ),
    "SENTRY_DSN": (
        SENTRY_DSN_RE,
        "is not a Sentry DSN (https://<key>@<host>/<project id>); copy it from your Sentry "
        "project's Client Keys, or leave it empty",
    ),
    "DISCORD_TOKEN": (
        DISCORD_TOKEN_RE,
        "is not a bot token (three dot-separated parts); copy it from the Developer Portal → "
        "Bot → Reset Token, or leave it empty for the demo bot",
    ),
}


def _shape(env: Mapping[str, str], key: str) -> list[Problem]:
    value = env.get(key, "")
    pattern, message = SHAPES[key]
    if value and not pattern.match(value):
        return [Problem(key, message.format(value=value))]
    return []


def check_channels(env: Mapping[str, str]) -> list[Problem]:
    problems = [
        *_shape(env, "DISCORD_WEBHOOK_URL"),
        *_shape(env, "TELEGRAM_BOT_TOKEN"),
        *_shape(env, "TELEGRAM_CHAT_ID"),
    ]
    token, chat = env.get("TELEGRAM_BOT_TOKEN", ""), env.get("TELEGRAM_CHAT_ID", "")
    if bool(token) != bool(chat):
        missing = "TELEGRAM_CHAT_ID" if token else "TELEGRAM_BOT_TOKEN"
        problems.append(
            Problem(missing, "is empty but Telegram needs both the bot token and the chat id")
        )
    return problems + _bool("TELEGRAM_WARNINGS", env.get("TELEGRAM_WARNINGS", "false"))


def check_bot(env: Mapping[str, str]) -> list[Problem]:
    problems = []
    password = env.get("GRAFANA_ADMIN_PASSWORD", "")
    if len(password) < 12 or password.lower() in ("admin", "password", "changeme"):
        problems.append(
            Problem(
                "GRAFANA_ADMIN_PASSWORD",
                "must be at least 12 characters and not a default; delete the line and run "
                "`make up` to generate one, or set your own",
            )
        )
    problems += _shape(env, "SENTRY_DSN") + _shape(env, "DISCORD_TOKEN")
    level = env.get("LOG_LEVEL", "info")
    if level.lower() not in LOG_LEVELS:
        problems.append(Problem("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}"))
    if not LABEL_VALUE_RE.match(env.get("BOTWATCH_ENV", "production")):
        problems.append(
            Problem("BOTWATCH_ENV", "must be a short name of letters, digits, '.', '_' or '-'")
        )
    return problems


def check_urls(env: Mapping[str, str]) -> list[Problem]:
    problems = []
    for key in ("GRAFANA_URL", "ALERTMANAGER_URL", "PROMETHEUS_URL"):
        value = env.get(key, "")
        if value and not is_url(value):
            problems.append(Problem(key, "must be an http(s) URL such as http://127.0.0.1:3000"))
    for key in ("RUNBOOK_BASE_URL", "SENTRY_URL"):
        value = env.get(key, "")
        if value and not is_url(value):
            problems.append(Problem(key, "must be an http(s) URL or empty"))
    return problems


def check_network(env: Mapping[str, str]) -> list[Problem]:
    problems = []
    address = env.get("BIND_ADDRESS", "127.0.0.1")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        problems.append(
            Problem(
                "BIND_ADDRESS",
                f"{address!r} is not an IP address; use 127.0.0.1 (this machine only) or "
                "0.0.0.0 (every interface)",
            )
        )
    problems += _gossip_network(env.get("ALERTMANAGER_GOSSIP_NET", "10.253.253"))
    seen: dict[int, str] = {}
    for key in PORT_KEYS:
        value = env.get(key, "")
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            problems.append(Problem(key, f"must be a port number from 1 to 65535, not {value!r}"))
            continue
        if int(value) in seen:
            problems.append(Problem(key, f"uses port {value}, already taken by {seen[int(value)]}"))
        seen[int(value)] = key
    return problems


def _gossip_network(prefix: str) -> list[Problem]:
    """ALERTMANAGER_GOSSIP_NET: the first three numbers of a private /29 (compose.yaml)."""
    try:
        network = ipaddress.ip_network(f"{prefix}.0/29")
    except ValueError:
        network = None
    if network is None or prefix.count(".") != 2 or not network.is_private:
        return [
            Problem(
                "ALERTMANAGER_GOSSIP_NET",
                f"{prefix!r} must be the first three numbers of a private network, e.g. 10.253.253",
            )
        ]
    return []


def check_retention(env: Mapping[str, str]) -> list[Problem]:
    problems = []
    time = env.get("PROMETHEUS_RETENTION_TIME", "35d")
    if not PROM_DURATION_RE.match(time):
        problems.append(
            Problem("PROMETHEUS_RETENTION_TIME", f"{time!r} is not a duration such as 35d or 12w")
        )
    elif seconds(time) < 30 * 86400:
        problems.append(
            Problem(
                "PROMETHEUS_RETENTION_TIME",
                f"{time} is shorter than the 30-day SLO window; use at least 30d",
            )
        )
    size = env.get("PROMETHEUS_RETENTION_SIZE", "5GB")
    if not PROM_SIZE_RE.match(size):
        problems.append(
            Problem("PROMETHEUS_RETENTION_SIZE", f"{size!r} is not a size such as 512MB or 5GB")
        )
    budget = env.get("LOKI_DISK_BUDGET", "10GB")
    if not PROM_SIZE_RE.match(budget):
        problems.append(
            Problem("LOKI_DISK_BUDGET", f"{budget!r} is not a size such as 512MB or 10GB")
        )
    period = env.get("LOKI_RETENTION_PERIOD", "336h")
    if not PROM_DURATION_RE.match(period) or seconds(period) % 86400 or not seconds(period):
        problems.append(
            Problem(
                "LOKI_RETENTION_PERIOD",
                f"{period!r} must be a whole number of days in hours, e.g. 336h (14 days): "
                "Loki deletes logs per 24h index period",
            )
        )
    problems += _bool("LOG_DROP_DEBUG", env.get("LOG_DROP_DEBUG", "false"))
    longterm = env.get("VICTORIAMETRICS_RETENTION", "12")
    if not VM_RETENTION_RE.match(longterm):
        problems.append(
            Problem(
                "VICTORIAMETRICS_RETENTION",
                f"{longterm!r} must be a number of months (12) or of days, weeks or years "
                "(400d, 60w, 2y)",
            )
        )
    return problems


def check_settings(env: Mapping[str, str]) -> list[Problem]:
    """Every problem in the settings, in the order of .env.example's sections."""
    return [
        *check_channels(env),
        *check_bot(env),
        *check_urls(env),
        *check_network(env),
        *check_retention(env),
    ]


def port_in_use(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as sock:
        try:
            sock.bind((address, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def check_ports_free(
    env: Mapping[str, str], in_use: Callable[[str, int], bool] = port_in_use
) -> list[Problem]:
    """Host ports the stack would publish that something else already holds."""
    address = env.get("BIND_ADDRESS", "127.0.0.1")
    return [
        Problem(
            key,
            f"port {env[key]} on {address} is already in use by another program; stop it or "
            f"choose another port for {key} in .env",
        )
        for key in PORT_KEYS
        if PROFILE_PORTS.get(key, "") in ("", *enabled(env))
        and env.get(key, "").isdigit()
        and in_use(address, int(env[key]))
    ]
