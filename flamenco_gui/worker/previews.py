"""Frame previews: a small JPEG of each frame Blender saves, sent to the manager.

Best effort and bounded: at most one upload in flight and one every MIN_INTERVAL
seconds; while one is going, only the newest frame waits (older ones are skipped). A
preview is never worth delaying a render or a report, so failures are only logged.
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
        self._latest: Frame | None = None
        self._ready = asyncio.Event()

    def offer(self, task_id: int, lease: int, frame: int | None, saved: str) -> None:
        """A frame was saved: it replaces any frame still waiting to be sent."""
        path = Path(saved)
        if frame is None or path.suffix.lower() not in READABLE:
            return
        self._latest = Frame(task_id, lease, frame, path)
        self._ready.set()

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            frame, self._latest = self._latest, None
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
