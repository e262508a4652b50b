"""Drive a headless Chromium over the DevTools protocol (no Selenium, no driver binary).

    with suppress(ChromiumMissing):
        pages = render_pages(["http://127.0.0.1:3000/d/x"], script="document.title",
                             headers={"Authorization": "Basic ..."}, settle=10)

Chromium is Debian's `chromium` package (/usr/bin/chromium); `find_chromium()` raises
ChromiumMissing with the reason when it is not installed, so a test can skip with it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ChromiumMissing(RuntimeError):
    """No Chromium binary on this machine."""


@dataclass
class Page:
    url: str
    result: Any  # what `script` evaluated to, JSON-decoded
    screenshot: bytes  # PNG of the whole window


def find_chromium() -> str:
    """Path of a Chromium/Chrome binary, or ChromiumMissing saying how to get one."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise ChromiumMissing("no headless browser: `apt-get install chromium` (Debian) provides one")


class _DevTools:
    """A minimal DevTools client on one page target."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=60)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})


async def _render(
    port: int, urls: Sequence[str], script: str, headers: Mapping[str, str], settle: float
) -> list[Page]:
    pages = []
    async with aiohttp.ClientSession() as http:
        async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as response:
            target = await response.json(content_type=None)
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = _DevTools(ws)
            await tools.call("Network.enable")
            if headers:
                await tools.call("Network.setExtraHTTPHeaders", headers=dict(headers))
            for url in urls:
                await tools.call("Page.navigate", url=url)
                await asyncio.sleep(settle)
                value = await tools.call(
                    "Runtime.evaluate", expression=script, returnByValue=True, awaitPromise=True
                )
                shot = await tools.call("Page.captureScreenshot", format="png")
                pages.append(
                    Page(url, value["result"].get("value"), base64.b64decode(shot["data"]))
                )
    return pages


def render_pages(
    urls: Sequence[str],
    *,
    script: str,
    headers: Mapping[str, str] | None = None,
    settle: float = 10.0,
    window: tuple[int, int] = (1920, 4000),
) -> list[Page]:
    """Open each URL in one headless Chromium, wait `settle` seconds, evaluate `script`.

    A tall window keeps every panel of a dashboard in view, so none is left unrendered by lazy
    loading. `headers` go with every request of the page (e.g. Authorization).
    """
    binary = find_chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             f"--window-size={window[0]},{window[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            port = _devtools_port(Path(profile), process)
            return asyncio.run(_render(port, urls, script, headers or {}, settle))
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _devtools_port(profile: Path, process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """The port Chromium chose, from the DevToolsActivePort file it writes at startup."""
    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with status {process.returncode}")
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        time.sleep(0.1)
    raise RuntimeError("chromium did not open its DevTools port")
