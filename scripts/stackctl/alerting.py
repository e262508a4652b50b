"""Alertmanager config for the channels configured in .env (DESIGN §7).

alertmanager/alertmanager.yml is the committed base: the routing tree, inhibitions and timings,
hand-written and commented. Everything below its "rendered below" marker is produced here from the
settings: the template paths, the quiet hours and, for each receiver, the notifiers of the channels
that are configured. A channel that is not configured gets no notifier at all, so nothing can fail
for it, and the stack works with neither. Secrets never enter the rendered file: Alertmanager reads
them from the Compose secret files (`webhook_url_file`, `bot_token_file`, `chat_id_file`, and the
dead man's switch's `url_file`).

Stdlib only (`make up` runs without the dev venv): the rendered part is written as YAML whose
scalars are JSON strings, which YAML reads as double-quoted strings.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Mapping
from pathlib import Path

from .checks import Problem, is_url

BASE = Path(__file__).resolve().parents[2] / "alertmanager" / "alertmanager.yml"
MARKER = "# ---- rendered below this line by scripts/stackctl/alerting.py (make up) ----"
CONTAINER_TEMPLATES = "/etc/alertmanager/templates"
CONTAINER_SECRETS = "/run/secrets"
DEFAULT_GRAFANA_URL = "http://127.0.0.1:3000"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
QUIET_HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")

# Receiver → which channels it uses. "warnings" means Telegram only when TELEGRAM_WARNINGS=true;
# "deadmansswitch" is the external heartbeat service of DEADMANSSWITCH_URL, never a chat.
# The order is the order in the rendered file; the names are the routing tree's (alertmanager.yml).
RECEIVERS: dict[str, tuple[str, ...]] = {
    "critical": ("discord", "telegram"),
    "warning": ("discord", "telegram-warnings"),
    "info-digest": ("discord", "telegram-warnings"),
    "telegram-failover": ("telegram",),
    "discord-failover": ("discord",),
    "test-alert": ("discord", "telegram"),
    "heartbeat": ("deadmansswitch",),
}
# Receivers whose Telegram messages arrive without a sound: a digest should not wake anyone.
SILENT = ("info-digest",)


def configured_channels(env: Mapping[str, str]) -> list[str]:
    """The channels with complete settings, in a fixed order: ["discord", "telegram"] at most."""
    channels = []
    if env.get("DISCORD_WEBHOOK_URL", "").strip():
        channels.append("discord")
    if env.get("TELEGRAM_BOT_TOKEN", "").strip() and env.get("TELEGRAM_CHAT_ID", "").strip():
        channels.append("telegram")
    return channels


def deadmansswitch_url(env: Mapping[str, str]) -> str:
    """The heartbeat service's ping URL (DEADMANSSWITCH_URL), "" when the switch is off."""
    return env.get("DEADMANSSWITCH_URL", "").strip()


def alert_timezone(env: Mapping[str, str]) -> str:
    """The IANA zone the quiet hours are in (ALERT_TIMEZONE, UTC when empty)."""
    return env.get("ALERT_TIMEZONE", "").strip() or "UTC"


def check_alerting(env: Mapping[str, str]) -> list[Problem]:
    """Problems in the settings only this module reads (the channel settings are in checks.py)."""
    problems = []
    quiet = env.get("ALERT_QUIET_HOURS", "").strip()
    match = QUIET_HOURS_RE.match(quiet)
    if quiet and not match:
        problems.append(
            Problem("ALERT_QUIET_HOURS", f"must be HH:MM-HH:MM (e.g. 22:00-07:00), not {quiet!r}")
        )
    elif match and match[1] + match[2] == match[3] + match[4]:
        problems.append(Problem("ALERT_QUIET_HOURS", "start and end are equal; leave it empty"))
    zone = alert_timezone(env)
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(
            Problem("ALERT_TIMEZONE", f"{zone!r} is not an IANA time zone such as Europe/Berlin")
        )
    ping = deadmansswitch_url(env)
    if ping and not is_url(ping):
        problems.append(
            Problem(
                "DEADMANSSWITCH_URL",
                "is not an http(s) URL; use your heartbeat check's ping URL (e.g. "
                "https://hc-ping.com/<uuid>), or leave it empty",
            )
        )
    api = env.get("TELEGRAM_API_URL", "").strip()
    if api and not is_url(api):
        problems.append(Problem("TELEGRAM_API_URL", "must be an http(s) URL or empty"))
    for key in ("GRAFANA_URL", "RUNBOOK_BASE_URL"):
        # checks.py validates them as URLs; these characters would also end up in Go template
        # text (the link context) and in Markdown links, where they do not belong in a base URL.
        if re.search(r'["\\{}()<>`]', env.get(key, "")):
            problems.append(
                Problem(key, "must not contain quotes, braces, brackets or backslashes")
            )
    return problems


def _quiet_hours(env: Mapping[str, str]) -> list[dict]:
    """Alertmanager time_intervals for ALERT_QUIET_HOURS; none (never muted) when it is empty."""
    match = QUIET_HOURS_RE.match(env.get("ALERT_QUIET_HOURS", "").strip())
    if not match:
        return []
    start, end = f"{match[1]}:{match[2]}", f"{match[3]}:{match[4]}"
    # A range cannot cross midnight in Alertmanager: 22:00-07:00 is 22:00-24:00 plus 00:00-07:00.
    if start < end:
        times = [{"start_time": start, "end_time": end}]
    else:
        times = [{"start_time": start, "end_time": "24:00"}]
        if end != "00:00":
            times.append({"start_time": "00:00", "end_time": end})
    interval: dict = {"times": times}
    zone = alert_timezone(env)
    if zone != "UTC":
        interval["location"] = zone
    return [interval]


def _link_context(env: Mapping[str, str]) -> str:
    """The template argument carrying the link bases (see alertmanager/templates/botwatch.tmpl)."""
    grafana = env.get("GRAFANA_URL", "").strip() or DEFAULT_GRAFANA_URL
    runbooks = env.get("RUNBOOK_BASE_URL", "").strip()
    # json.dumps of a checked URL is also a valid Go string literal.
    return (
        f'(dict "Data" . "RunbookBaseURL" {json.dumps(runbooks.rstrip("/"))} '
        f'"GrafanaURL" {json.dumps(grafana.rstrip("/"))})'
    )


def _notifiers(name: str, env: Mapping[str, str], secrets_dir: str) -> dict:
    channels = configured_channels(env)
    telegram_warnings = env.get("TELEGRAM_WARNINGS", "false").strip().lower() == "true"
    wanted = set(RECEIVERS[name])
    links = _link_context(env)
    receiver: dict = {"name": name}
    if "discord" in wanted and "discord" in channels:
        receiver["discord_configs"] = [
            {
                "webhook_url_file": f"{secrets_dir}/discord_webhook_url",
                "send_resolved": True,
                "username": "Botwatch",
                "title": '{{ template "discord.botwatch.title" . }}',
                "message": f'{{{{ template "discord.botwatch.message" {links} }}}}',
            }
        ]
    telegram = "telegram" in wanted or ("telegram-warnings" in wanted and telegram_warnings)
    if telegram and "telegram" in channels:
        receiver["telegram_configs"] = [
            {
                "api_url": env.get("TELEGRAM_API_URL", "").strip() or DEFAULT_TELEGRAM_API_URL,
                "bot_token_file": f"{secrets_dir}/telegram_bot_token",
                "chat_id_file": f"{secrets_dir}/telegram_chat_id",
                "send_resolved": True,
                "parse_mode": "HTML",
                "disable_notifications": name in SILENT,
                "message": f'{{{{ template "telegram.botwatch.message" {links} }}}}',
            }
        ]
    if "deadmansswitch" in wanted and deadmansswitch_url(env):
        receiver["webhook_configs"] = [
            {
                "url_file": f"{secrets_dir}/deadmansswitch_url",
                # A resolved notice would be a ping too: the heartbeat must only come from a
                # firing Watchdog, so that a dead Prometheus means silence.
                "send_resolved": False,
            }
        ]
    return receiver


def _yaml(value: object, indent: int = 0) -> str:
    """Block YAML for dicts and lists; every scalar as JSON (strings become double-quoted)."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:\n{_yaml(item, indent + 2)}")
            else:
                lines.append(f"{pad}{key}: {json.dumps(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            # The item's first line goes after the dash, the rest keep the deeper indent.
            text = _yaml(item, indent + 2) if isinstance(item, dict | list) else json.dumps(item)
            lines.append(f"{pad}- {text.lstrip()}")
        return "\n".join(lines)
    return f"{pad}{json.dumps(value)}"


def rendered_section(
    env: Mapping[str, str],
    *,
    templates_dir: str = CONTAINER_TEMPLATES,
    secrets_dir: str = CONTAINER_SECRETS,
) -> str:
    """The part of the config below the marker, for these settings."""
    section = {
        "templates": [f"{templates_dir}/*.tmpl"],
        "time_intervals": [{"name": "quiet-hours", "time_intervals": _quiet_hours(env)}],
        "receivers": [_notifiers(name, env, secrets_dir) for name in RECEIVERS],
    }
    return _yaml(section) + "\n"


def render(
    env: Mapping[str, str],
    out_dir: Path,
    *,
    templates_dir: str = CONTAINER_TEMPLATES,
    secrets_dir: str = CONTAINER_SECRETS,
) -> list[str]:
    """Write out_dir/alertmanager.yml for the settings; returns the configured channel names.

    The keyword arguments are the paths Alertmanager sees (the container's by default); tests
    point them at the repository and a temporary secrets folder. Raises ValueError with every
    problem in the settings this module reads, so a bad value stops `make up` with a message
    instead of crash-looping the container.

    Example: `render(settings, root / ".generated" / "alertmanager")` returns ["discord"] when only
    DISCORD_WEBHOOK_URL is set, and [] (receivers without notifiers) when no channel is.
    """
    problems = check_alerting(env)
    if problems:
        raise ValueError("\n".join(str(problem) for problem in problems))
    base = BASE.read_text(encoding="utf-8")
    head, marker, _ = base.partition(MARKER)
    if not marker:
        raise ValueError(f"{BASE} lost its marker line: {MARKER}")
    section = rendered_section(env, templates_dir=templates_dir, secrets_dir=secrets_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "alertmanager.yml"
    target.write_text(f"{head}{marker}\n{section}", encoding="utf-8")
    return configured_channels(env)
