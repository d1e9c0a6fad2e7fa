"""The set-up shared by the tests of frames going back to the manager: a `manager`
storage job of one frame whose blend is already on the manager, and a real worker
client that registered and pulled its task."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from flamenco_gui.manager import Manager
from flamenco_gui.worker.client import ManagerClient


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def submit_one_frame_job(manager: Manager, name: str) -> dict[str, Any]:
    """A one-frame `blender_render` job of `manager` storage, its blend uploaded."""
    blend = b"a blend"
    await manager.service.files().receive(sha(blend), len(blend), 0, _once(blend))
    return await manager.service.submit_job(
        name=name, type="blender_render", priority=50, chunk_size=1, storage="manager",
        settings={"filepath": "scene.blend", "render_output": "######",
                  "frame_start": 1, "frame_end": 1},
        files=[{"path": "scene.blend", "sha256": sha(blend), "size": len(blend)}],
    )  # fmt: skip


async def pull_as_worker(
    session: aiohttp.ClientSession, manager: Manager, token: str, work: Path, hostname: str
) -> tuple[ManagerClient, int, int]:
    """A worker client that registers as `hostname` and pulls: it, the task and lease."""

    async def registration() -> dict[str, Any]:
        return {"hostname": hostname, "system": "Linux"}

    client = ManagerClient(session, manager.url, token, work / "credentials.json", registration)
    pulled = await client.call("PATCH", "/workers/{worker_id}", {"status": "available"})
    return client, pulled.data["task_id"], pulled.data["lease"]
