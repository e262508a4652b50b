"""Synthetic bots for the agent benchmark: N /metrics endpoints of K counter series each.

    python -m tests.support.synthetic_exporter --series 5000 PORT [PORT ...]

Each endpoint serves `bot_synthetic_events_total{series="<i>"}` for i < K, all at the number of
scrapes so far, so every scrape adds one new sample per series (what a busy bot's counters do).
Stdlib only; one thread per port.
"""

from __future__ import annotations

import argparse
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handler(series: int) -> type[BaseHTTPRequestHandler]:
    scrapes = itertools.count(1)

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            value = next(scrapes)
            body = "".join(
                f'bot_synthetic_events_total{{series="{i}"}} {value}\n' for i in range(series)
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=5000)
    parser.add_argument("ports", type=int, nargs="+")
    args = parser.parse_args()
    servers = [ThreadingHTTPServer(("127.0.0.1", p), handler(args.series)) for p in args.ports]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
