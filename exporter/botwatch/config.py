"""Settings: explicit arguments win, then environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypedDict, Unpack

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_NAMESPACE = "bot"
DEFAULT_LABEL_LIMIT = 200
# Production-safe: enough transactions to see slow commands, not enough to cost real money.
DEFAULT_TRACES_SAMPLE_RATE = 0.05


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of `botwatch.setup`, resolved once."""

    service: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    namespace: str = DEFAULT_NAMESPACE
    label_limit: int = DEFAULT_LABEL_LIMIT
    log_level: str = "INFO"
    env: str | None = None
    version: str = "unknown"
    revision: str = "unknown"
    sentry_dsn: str | None = None
    sentry_environment: str | None = None
    sentry_traces_sample_rate: float = DEFAULT_TRACES_SAMPLE_RATE


def setting(name: str) -> str | None:
    """An environment setting, or the content of the file named by ``<name>_FILE``.

    The ``_FILE`` form is how Compose and Docker secrets reach a process without putting the
    secret itself in the environment (where `docker inspect` shows it).
    """
    value = os.environ.get(name, "").strip()
    path = os.environ.get(f"{name}_FILE", "").strip()
    if not value and path:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    return value or None


def _number(name: str, value: str | None, kind: type[int] | type[float]) -> int | float | None:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise ValueError(f"{name}={value!r} is not a valid {kind.__name__}") from exc


def _pick(explicit, env_name: str, default, kind=str):
    if explicit is not None:
        return explicit
    raw = setting(env_name)
    if raw is None:
        return default
    return raw if kind is str else _number(env_name, raw, kind)


class SettingsArgs(TypedDict, total=False):
    """The keyword arguments of ``resolve()`` and ``botwatch.setup()``; None means unset."""

    service: str | None
    host: str | None
    port: int | None
    namespace: str | None
    label_limit: int | None
    log_level: str | None
    env: str | None
    version: str | None
    revision: str | None
    sentry_dsn: str | None
    sentry_environment: str | None
    sentry_traces_sample_rate: float | None


def resolve(**args: Unpack[SettingsArgs]) -> Settings:
    """Build `Settings` from arguments, falling back to the `BOTWATCH_*`/`SENTRY_*` variables."""
    bot_env = _pick(args.get("env"), "BOTWATCH_ENV", None)
    settings = Settings(
        service=_pick(args.get("service"), "BOTWATCH_SERVICE", "bot"),
        host=_pick(args.get("host"), "BOTWATCH_HOST", DEFAULT_HOST),
        port=_pick(args.get("port"), "BOTWATCH_PORT", DEFAULT_PORT, int),
        namespace=_pick(args.get("namespace"), "BOTWATCH_NAMESPACE", DEFAULT_NAMESPACE),
        label_limit=_pick(
            args.get("label_limit"), "BOTWATCH_LABEL_LIMIT", DEFAULT_LABEL_LIMIT, int
        ),
        log_level=_pick(args.get("log_level"), "LOG_LEVEL", "INFO").upper(),
        env=bot_env,
        version=_pick(args.get("version"), "BOTWATCH_VERSION", "unknown"),
        revision=_pick(args.get("revision"), "BOTWATCH_REVISION", "unknown"),
        sentry_dsn=_pick(args.get("sentry_dsn"), "SENTRY_DSN", None),
        sentry_environment=_pick(args.get("sentry_environment"), "SENTRY_ENVIRONMENT", bot_env),
        sentry_traces_sample_rate=_pick(
            args.get("sentry_traces_sample_rate"),
            "SENTRY_TRACES_SAMPLE_RATE",
            DEFAULT_TRACES_SAMPLE_RATE,
            float,
        ),
    )
    if not 0 <= settings.port <= 65535:
        raise ValueError(f"BOTWATCH_PORT={settings.port} is outside 0-65535")
    if settings.label_limit < 1:
        raise ValueError(f"BOTWATCH_LABEL_LIMIT={settings.label_limit} must be at least 1")
    return settings
