"""The demo bot: ``python -m botwatch.demo`` (offline traffic, or a real bot with DISCORD_TOKEN)."""
