"""A small client for Alertmanager's API v2: what is firing, and silences. Used by ``chatops``.

It takes a list of URLs — one Alertmanager, or every member of an HA pair, which share their
silences by gossip — and asks them in order: an address that does not connect, times out or answers
5xx is skipped for the next one; a 4xx answer is final (every member would refuse the same request).
Credentials for an Alertmanager behind an authenticated entry point go in ``auth`` (HTTP basic
auth) or in the URL (``https://user:password@host``); they never appear in messages or logs.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

# Alertmanager's own severity order is none; this is Botwatch's (DESIGN §7), worst first.
SEVERITY_ORDER = ("critical", "warning", "info")


class AlertmanagerUnavailable(Exception):
    """No Alertmanager answered; the message names each address and why."""


class AlertmanagerRefused(Exception):
    """An Alertmanager answered the request with a 4xx: ``status`` and its ``reason`` text."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


def public_url(url: str) -> str:
    """``url`` without the credentials it may carry, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", "")).rstrip("/")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as Alertmanager holds it."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    generator_url: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "?")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    @property
    def rank(self) -> tuple[int, datetime]:
        """Sort key: worst severity first, then oldest first."""
        severity = self.severity
        order = (
            SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)
        )
        return order, self.starts_at

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Alert:
        return cls(
            labels=dict(data.get("labels") or {}),
            annotations=dict(data.get("annotations") or {}),
            # Python 3.11 reads RFC 3339 with "Z" and nanoseconds (cut to microseconds).
            starts_at=datetime.fromisoformat(data["startsAt"]),
            generator_url=data.get("generatorURL") or "",
        )


class AlertmanagerClient:
    """Alerts and silences from the first of ``urls`` that answers.

    Example::

        client = AlertmanagerClient(["http://am-1:9093", "http://am-2:9093"])
        firing = await client.firing()
        silence_id = await client.create_silence(
            {"alertname": "BotCommandsSlow"}, ends_at=..., created_by="ana", comment="deploy"
        )
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        auth: tuple[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        if isinstance(urls, str) or not urls:
            raise ValueError("alertmanager_urls must be a non-empty list of URLs")
        self.urls = [url.rstrip("/") for url in urls]
        self._headers = {}
        if auth is not None:
            token = base64.b64encode(":".join(auth).encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> tuple[Any, str]:
        """The decoded JSON answer (None when empty) and the public URL that gave it."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        failures = []
        for url in self.urls:
            try:
                async with self._session.request(
                    method, f"{url}/api/v2/{path}", params=params, json=body, headers=self._headers
                ) as response:
                    text = await response.text()
                    if response.status >= 500:
                        failures.append(f"{public_url(url)}: HTTP {response.status}")
                        continue
                    if response.status >= 400:
                        raise AlertmanagerRefused(response.status, text.strip()[:200])
                    return (await response.json() if text else None), public_url(url)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                # The kind of failure only: an exception's text may quote the URL it was given.
                why = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
                failures.append(f"{public_url(url)}: {why}")
        raise AlertmanagerUnavailable("; ".join(failures))

    async def firing(self) -> list[Alert]:
        """Alerts firing now and neither silenced nor inhibited, worst and oldest first."""
        params = {"active": "true", "silenced": "false", "inhibited": "false"}
        data, _ = await self._request("GET", "alerts", params=params)
        return sorted((Alert.from_api(item) for item in data or []), key=lambda a: a.rank)

    async def create_silence(
        self,
        matchers: Mapping[str, str],
        *,
        ends_at: datetime,
        created_by: str,
        comment: str,
        starts_at: datetime | None = None,
    ) -> tuple[str, str]:
        """Create a silence of the alerts whose labels equal ``matchers``: its id, and the URL."""
        body = {
            "matchers": [
                {"name": name, "value": value, "isRegex": False, "isEqual": True}
                for name, value in matchers.items()
            ],
            "startsAt": (starts_at or datetime.now(ends_at.tzinfo)).isoformat(),
            "endsAt": ends_at.isoformat(),
            "createdBy": created_by,
            "comment": comment,
        }
        data, url = await self._request("POST", "silences", body=body)
        return data["silenceID"], url

    async def expire_silence(self, silence_id: str) -> str:
        """Expire a silence now; the URL that did it. A 404 means no such (active) silence."""
        _, url = await self._request("DELETE", f"silence/{silence_id}")
        return url

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
