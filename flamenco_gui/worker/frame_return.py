"""Every frame a `manager` task saved goes back to the manager before the task is
reported completed (docs/storage.md).

For each file: its SHA-256 (on a thread), `PUT /files/{sha256}` streamed, resumed from
what the manager holds after a break (`POST /files/check` tells), then `POST
/tasks/{id}/frames`, which puts it in the job's output folder on the manager. Only
once that answered does the local copy go. While the manager is away (a restart) the
worker waits and resumes; the lease survives the restart. A refusal (409: the task is
no longer ours) ends the task's run.

Between Blender's last frame and the task's completion the wrangler sees the task's
activity say what goes on: "sending frame 3 of 12: 40.0 of 120.0 MB" (`SendingReport`),
reported as the render's own activity is (the task's progress report, through the
outbox), at most once per `SENDING_INTERVAL`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flamenco_gui.file_hash import file_sha256
from flamenco_gui.worker.client import Backoff, ManagerClient, ManagerUnreachable, Reply

log = logging.getLogger(__name__)

SENDING_INTERVAL = 1.0  # seconds: "sending frame …" reports at most this often
OnActivity = Callable[[str], None]


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


class SendingReport:
    """The task's activity while its saved files go back, throttled: a report at most
    every `interval` seconds (the first at once), so a 2 GB frame over a slow link
    tells the wrangler it moves without a report per chunk (each is a journal write
    on the worker and a task update on the manager)."""

    def __init__(
        self,
        count: int,
        report: OnActivity,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count = count
        self._report = report
        self._interval = SENDING_INTERVAL if interval is None else interval
        self._clock = clock
        self._last: float | None = None
        self._index = self._size = self._sent = 0

    def frame(self, index: int, size: int) -> None:
        """File `index` (from 1) of `count`, `size` bytes, starts."""
        self._index, self._size, self._sent = index, size, 0
        self._maybe()

    def at(self, offset: int) -> None:
        """The upload (re)starts at `offset` (a resume after a break)."""
        self._sent = offset
        self._maybe()

    def sent(self, n: int) -> None:
        self._sent += n
        self._maybe()

    def text(self) -> str:
        return (
            f"sending frame {self._index} of {self._count}:"
            f" {_mb(self._sent)} of {_mb(self._size)} MB"
        )

    def _maybe(self) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        self._report(self.text())


class FrameRefused(Exception):
    """The manager refused a frame (the task's lease is lost, or the frame is bad)."""


class FrameReturn:
    def __init__(self, client: ManagerClient) -> None:
        self._client = client

    async def _retry(self, what: str, call: Any) -> Reply:
        backoff = Backoff()
        while True:
            try:
                reply: Reply = await call()
                return reply
            except ManagerUnreachable as exc:
                log.info("%s: manager unreachable (%s), retrying", what, exc)
                await backoff.sleep()

    async def send(
        self,
        task_id: int,
        lease: int,
        folder: Path,
        saved: list[str],
        on_activity: OnActivity | None = None,
    ) -> list[str]:
        """Send each saved file (a path under `folder`, the task's folder); returns the
        paths they have on the manager. `on_activity` is told how far it got
        (throttled, `SendingReport`), and last how many went. Raises FrameRefused."""
        names = list(dict.fromkeys(saved))  # a frame saved twice is sent once
        report = SendingReport(len(names), on_activity or (lambda _text: None))
        placed = []
        for index, name in enumerate(names, 1):
            path = (folder / name).resolve()
            try:
                rel = path.relative_to(folder.resolve()).as_posix()
            except ValueError:
                raise FrameRefused(f"{name}: saved outside the task's folder") from None
            report.frame(index, path.stat().st_size)
            placed.append(await self._send_one(task_id, lease, path, rel, report))
            await asyncio.to_thread(path.unlink, True)
        if on_activity is not None and names:
            on_activity(f"frames sent to the manager: {len(names)}")
        return placed

    async def _send_one(
        self, task_id: int, lease: int, path: Path, rel: str, report: SendingReport
    ) -> str:
        sha = await asyncio.to_thread(file_sha256, path)
        size = path.stat().st_size
        while True:
            check = await self._retry(
                f"frame {rel}",
                lambda: self._client.call(
                    "POST", "/files/check", {"files": [{"sha256": sha, "size": size}]}
                ),
            )
            if not check.ok:
                raise FrameRefused(f"{rel}: the manager refused the check: {check.error}")
            missing = check.data["missing"]
            if missing:
                offset = int(missing[0]["offset"])
                query = urllib.parse.urlencode({"size": size, "offset": offset})
                report.at(offset)
                try:
                    put = await self._client.put_from(
                        f"/files/{sha}?{query}", path, offset, on_bytes=report.sent
                    )
                except ManagerUnreachable as exc:
                    log.info("frame %s: upload broke off (%s): resuming", rel, exc)
                    await Backoff().sleep()
                    continue
                if put.status == 409:  # a stale offset, or our own upload still closing
                    await asyncio.sleep(0.5)
                    continue
                if not put.ok:
                    raise FrameRefused(f"{rel}: the manager refused the upload: {put.error}")
                if not put.data.get("stored"):
                    continue
            body = {"path": rel, "sha256": sha, "lease": lease}
            done = await self._retry(
                f"frame {rel}",
                lambda body=body: self._client.call("POST", f"/tasks/{task_id}/frames", body),
            )
            if done.status == 404:  # the frame's upload is gone (cleaned up): send again
                continue
            if not done.ok:
                raise FrameRefused(f"{rel}: the manager refused the frame: {done.error}")
            log.info("frame %s is on the manager: %s", rel, done.data.get("path"))
            return str(done.data.get("path"))
