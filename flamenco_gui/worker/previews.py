"""Frame previews: a small JPEG of each frame Blender saves, sent to the manager.

Best effort and bounded: at most one upload in flight and one every MIN_INTERVAL
seconds; while one is going, only the newest frame of each task waits (older ones of
that task are skipped). A task's newest frame is never replaced by another task's, so
the last frame of every task is sent, even when the next task starts within the
second (a fast job's previews would otherwise miss the frames that end its chunks);
tasks' frames go oldest task first, at most WAITING_TASKS of them waiting. A preview is
never worth delaying a render or a report, so failures are only logged.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from flamenco_gui.worker.client import ManagerClient, ManagerUnreachable, TokenRefused

log = logging.getLogger(__name__)

THUMB_SIDE = 320
MIN_INTERVAL = 1.0
WAITING_TASKS = 8  # tasks whose newest frame may wait at once (beyond: the oldest goes)
# Formats Pillow reads; EXR, HDR and the like are skipped.
READABLE = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".tga", ".webp"}


@dataclass(frozen=True, slots=True)
class Frame:
    task_id: int
    lease: int
    frame: int
    path: Path


def thumbnail(path: Path, side: int = THUMB_SIDE) -> bytes:
    """A JPEG of at most `side` px a side (Pillow does the scaling, with antialiasing)."""
    with Image.open(path) as image:
        image.thumbnail((side, side))
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


class PreviewUploader:
    def __init__(self, client: ManagerClient) -> None:
        self._client = client
        self._waiting: dict[int, Frame] = {}  # task id -> its newest unsent frame
        self._ready = asyncio.Event()

    def offer(self, task_id: int, lease: int, frame: int | None, saved: str) -> None:
        """A frame was saved: it replaces its task's frame still waiting to be sent."""
        path = Path(saved)
        if frame is None or path.suffix.lower() not in READABLE:
            return
        self._waiting[task_id] = Frame(task_id, lease, frame, path)
        while len(self._waiting) > WAITING_TASKS:
            del self._waiting[next(iter(self._waiting))]
        self._ready.set()

    def next_frame(self) -> Frame | None:
        """The frame to send next: the oldest waiting task's newest frame."""
        if not self._waiting:
            return None
        return self._waiting.pop(next(iter(self._waiting)))

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            frame = self.next_frame()
            if not self._waiting:
                self._ready.clear()
            if frame is not None:
                await self._send(frame)
            await asyncio.sleep(MIN_INTERVAL)

    async def _send(self, frame: Frame) -> None:
        try:
            jpeg = await asyncio.to_thread(thumbnail, frame.path)
        except (OSError, UnidentifiedImageError) as exc:
            log.debug("no preview of %s: %s", frame.path, exc)
            return
        path = f"/tasks/{frame.task_id}/preview?frame={frame.frame}&lease={frame.lease}"
        try:
            reply = await self._client.call("POST", path, jpeg)
        except (ManagerUnreachable, TokenRefused) as exc:
            log.debug("preview of frame %d not sent: %s", frame.frame, exc)
            return
        if not reply.ok:
            log.debug("preview of frame %d refused: %s", frame.frame, reply.error)
