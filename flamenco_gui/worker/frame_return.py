"""Every frame a `manager` task saved goes back to the manager before the task is
reported completed (docs/storage.md).

For each file: its SHA-256 (on a thread), `PUT /files/{sha256}` streamed, resumed from
what the manager holds after a break (`POST /files/check` tells), then `POST
/tasks/{id}/frames`, which puts it in the job's output folder on the manager. Only
once that answered does the local copy go. While the manager is away (a restart) the
worker waits and resumes; the lease survives the restart. A refusal (409: the task is
no longer ours) ends the task's run.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from pathlib import Path
from typing import Any

from flamenco_gui.file_hash import file_sha256
from flamenco_gui.worker.client import Backoff, ManagerClient, ManagerUnreachable, Reply

log = logging.getLogger(__name__)


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

    async def send(self, task_id: int, lease: int, folder: Path, saved: list[str]) -> list[str]:
        """Send each saved file (a path under `folder`, the task's folder); returns the
        paths they have on the manager. Raises FrameRefused."""
        placed = []
        for name in dict.fromkeys(saved):  # a frame saved twice is sent once
            path = (folder / name).resolve()
            try:
                rel = path.relative_to(folder.resolve()).as_posix()
            except ValueError:
                raise FrameRefused(f"{name}: saved outside the task's folder") from None
            placed.append(await self._send_one(task_id, lease, path, rel))
            await asyncio.to_thread(path.unlink, True)
        return placed

    async def _send_one(self, task_id: int, lease: int, path: Path, rel: str) -> str:
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
                try:
                    put = await self._client.put_from(f"/files/{sha}?{query}", path, offset)
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
