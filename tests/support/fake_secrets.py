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
