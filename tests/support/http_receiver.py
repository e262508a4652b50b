"""A local HTTP ingest stand-in: a stdlib server in a thread that hands each POST body on.

Stdlib, not aiohttp: Sentry's aiohttp integration would trace an aiohttp receiver and send
those transactions to it, without end. Used by the Sentry envelope receiver
(tests/support/sentry_envelopes.py) and the OTLP receiver (tests/support/otlp.py).
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class PostReceiver:
    """Subclasses implement ``receive(path, body)`` (body decompressed) and may set ``reply``."""

    reply: bytes = b""
    reply_type: str = "application/octet-stream"

    def __init__(self) -> None:
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.receive(self.path, body)
                self.send_response(200)
                self.send_header("Content-Type", received.reply_type)
                self.send_header("Content-Length", str(len(received.reply)))
                self.end_headers()
                self.wfile.write(received.reply)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def receive(self, path: str, body: bytes) -> None:
        raise NotImplementedError

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
