"""Botwatch: metrics, health endpoints, JSON logs and Sentry for discord.py bots."""

__all__: list[str] = []
