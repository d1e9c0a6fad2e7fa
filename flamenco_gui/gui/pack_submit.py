"""A `manager` job from the window: the .blend packed (blender-asset-tracer, on a
thread) and its files put into this manager's own file store, without HTTP (the
window runs beside the manager). Each file is read on a thread and handed to the same
`receive` that `PUT /files/{sha256}` uses, so it is verified the same way; files the
store has already are skipped. Returns what the job's submission needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from flamenco_gui.farm.service import FarmService
from flamenco_gui.submit.packing import PackedFile, pack

CHUNK = 4 * 1024 * 1024


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            yield chunk


async def store_pack(
    service: FarmService, blend: Path, say: Callable[[str], None]
) -> tuple[str, list[dict[str, Any]]]:
    """(the .blend's path in the pack, the manifest), every file in the store."""
    store = service.files()
    with contextlib.ExitStack() as stack:
        packed = await asyncio.to_thread(stack.enter_context, pack(blend))
        missing = await store.missing([(f.sha256, f.size) for f in packed.files])
        lacking = {m["sha256"] for m in missing}
        todo: list[PackedFile] = [f for f in packed.files if f.sha256 in lacking]
        for n, f in enumerate(todo, 1):
            say(f"Storing {f.path} ({n} of {len(todo)}, {f.size:,} bytes)…")
            await store.receive(f.sha256, f.size, 0, _read(f.source))
        manifest = [f.manifest_entry() for f in packed.files]
        # The temporary folder of rewritten .blend files goes on a thread too.
        await asyncio.to_thread(stack.pop_all().close)
        return packed.blend, manifest
