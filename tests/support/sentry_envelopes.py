"""A Sentry ingest stand-in for the real sentry-sdk: a local envelope receiver.

Point a DSN at ``receiver.dsn``; every event and transaction the SDK sends is kept, decoded.
Used by the exporter's Sentry and OpenTelemetry tests and the exemplar end-to-end test.
"""

from __future__ import annotations

import json

from tests.support.http_receiver import PostReceiver


class Envelopes(PostReceiver):
    """A Sentry ingest stand-in: stores every event and transaction it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, dict]] = []
        self.bodies: list[bytes] = []
        self.dsn = f"http://key@127.0.0.1:{self.port}/1"

    def receive(self, path: str, body: bytes) -> None:
        self.bodies.append(body)
        self.parse(body)

    def parse(self, body: bytes) -> None:
        """Split an envelope into its items."""
        _, rest = body.split(b"\n", 1)  # the envelope header
        while rest.strip():
            header_line, rest = rest.split(b"\n", 1)
            header = json.loads(header_line)
            length = header.get("length")
            if length is None:
                payload, _, rest = rest.partition(b"\n")
            else:
                payload, rest = rest[:length], rest[length + 1 :]
            if header.get("type") in ("event", "transaction"):
                self.items.append((header["type"], json.loads(payload)))

    def raw(self) -> bytes:
        """Every envelope received, as sent (decompressed)."""
        return b"".join(self.bodies)

    def of(self, kind: str) -> list[dict]:
        """Payloads of one item type."""
        return [payload for t, payload in self.items if t == kind]
