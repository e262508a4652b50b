"""Secret files behind the Compose secrets, written from .env (never committed, never rendered)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Compose secret name → .env setting.
SECRETS = {
    "discord_webhook_url": "DISCORD_WEBHOOK_URL",
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_chat_id": "TELEGRAM_CHAT_ID",
    "grafana_admin_password": "GRAFANA_ADMIN_PASSWORD",
    "sentry_dsn": "SENTRY_DSN",
    "discord_token": "DISCORD_TOKEN",
    "deadmansswitch_url": "DEADMANSSWITCH_URL",
    # "<user> <bcrypt hash>" for the ingest gateway, composed by stackctl.ingest.users_line.
    "ingest_users": "INGEST_USERS",
}


def write_secrets(
    env: Mapping[str, str], folder: Path, secrets: Mapping[str, str] = SECRETS
) -> None:
    """Write one file per secret (empty when unset) so every Compose secret source exists.

    The folder is private to the user (0700); the files are 0644 because the containers read them
    as their own non-root users through a bind mount, where the folder's mode does not apply.
    """
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    for name, key in secrets.items():
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(env.get(key, ""))
        path.chmod(0o644)
