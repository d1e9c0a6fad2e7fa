"""The read-only status page at `/`, in real headless Chromium (Debian's package):
it loads, shows the farm, and follows a change through /events without a reload."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.procs import TOKEN, Farm, wait_until

pytestmark = pytest.mark.timeout(120)

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0",
]  # fmt: skip


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI") or os.environ.get("FLAMENCO_REQUIRE_BLENDER") == "1":
            pytest.fail("chromium is missing (make test installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    return found


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    farm = Farm(tmp_path)
    farm.start_manager()
    try:
        yield farm
    finally:
        farm.stop()


class Page:
    """The one tab of a headless Chromium, driven over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def eval(self, expression: str) -> Any:
        self.next_id += 1
        await self.ws.send_json(
            {"id": self.next_id, "method": "Runtime.evaluate",
             "params": {"expression": expression, "returnByValue": True}}
        )  # fmt: skip
        while True:
            msg = json.loads((await self.ws.receive()).data)
            if msg.get("id") == self.next_id:
                return msg["result"]["result"].get("value")

    async def until(self, expression: str, expected: Any, timeout: float) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (value := await self.eval(expression)) != expected:
            if loop.time() - start > timeout:
                raise AssertionError(f"{expression} is {value!r}, not {expected!r}")
            await asyncio.sleep(0.05)
        return loop.time() - start


def test_status_page_follows_the_farm(farm: Farm) -> None:
    http = farm.http
    settings = {"argv": ["true"], "frame_start": 1, "frame_end": 2}
    job = http.post("/jobs", {"name": "shot-010", "type": "command", "settings": settings})
    profile = Path(tempfile.mkdtemp(prefix="chromium-"))
    # The page reads with the viewer token (never the farm token in a browser).
    viewer = (farm.root / "manager" / "viewer-token").read_text().strip()
    browser = subprocess.Popen(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         f"{farm.url}/#token={viewer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 30, "DevTools")
        port = int(port_file.read_text().split()[0])

        async def drive() -> None:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json") as r:
                    tabs = [t for t in await r.json() if t["type"] == "page"]
                async with session.ws_connect(tabs[0]["webSocketDebuggerUrl"]) as ws:
                    page = Page(ws)
                    cell = f"document.querySelector('[data-job=\"{job['id']}\"] td:nth-child(2)')"
                    await page.until(f"{cell}?.textContent", "queued", 20)
                    assert (
                        await page.eval(f"{cell}.previousElementSibling.textContent") == "shot-010"
                    )
                    await page.until("document.getElementById('state').textContent", "live", 10)
                    http.post(f"/jobs/{job['id']}/actions", {"action": "pause"})
                    took = await page.until(f"{cell}.textContent", "paused", 5)
                    assert took < 2, f"the page took {took:.2f} s to follow"

        asyncio.run(drive())
    finally:
        browser.terminate()
        browser.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def test_status_page_needs_no_token_to_load_and_holds_no_data(farm: Farm) -> None:
    reply = farm.http.__class__(farm.url, token=None).request("GET", "/")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert "Flamenco farm" in reply.text and TOKEN not in reply.text
