"""Fake chat credentials for tests, in the shapes Discord and Telegram issue.

One definition for every test: the preflight's shape checks (scripts/stackctl/checks.py) accept
them, and the chat fakes (tests/support/chat_fakes.py) expect exactly these. They are composed at
import from repeated characters, so no literal in the repository looks like a real webhook URL or
bot token to a secret scanner.
"""

from __future__ import annotations

DISCORD_WEBHOOK_ID = "123456789012345678"
DISCORD_WEBHOOK_TOKEN = "a" * 68
DISCORD_WEBHOOK_URL = "https://discord.com/api/webhooks/" + "/".join(
    (DISCORD_WEBHOOK_ID, DISCORD_WEBHOOK_TOKEN)
)
TELEGRAM_BOT_TOKEN = "123456789" + ":" + "A" * 35
TELEGRAM_CHAT_ID = -1001234567890  # a supergroup's id

# Both channels configured, as .env would hold them.
CHANNEL_SETTINGS = {
    "DISCORD_WEBHOOK_URL": DISCORD_WEBHOOK_URL,
    "TELEGRAM_BOT_TOKEN": TELEGRAM_BOT_TOKEN,
    "TELEGRAM_CHAT_ID": str(TELEGRAM_CHAT_ID),
}

# A Discord bot token's shape (base64 user id, timestamp, HMAC) and a Sentry DSN's.
DISCORD_BOT_TOKEN = ".".join(("M" + "T" * 23, "G" * 6, "x" * 38))
SENTRY_DSN = "https://" + "0f" * 16 + "@o1.ingest.sentry.io/" + "4" * 16

# Every credential kind the botwatch library scrubs (botwatch/scrub.py), by placeholder kind.
PLANTED = {
    "discord_token": DISCORD_BOT_TOKEN,
    "discord_webhook": DISCORD_WEBHOOK_URL,
    "telegram_token": TELEGRAM_BOT_TOKEN,
    "sentry_dsn": SENTRY_DSN,
}
# What a Discord user typed: chat content, which must reach neither logs nor Sentry.
USER_TEXT = "my home address is 12 Secret Lane"

# A heartbeat check's ping URL (healthchecks.io's shape: a UUID after hc-ping.com).
DEADMANSSWITCH_URL = "https://hc-ping.com/" + "-".join(
    ("0" * 8, "0" * 4, "0" * 4, "0" * 4, "0" * 12)
)
