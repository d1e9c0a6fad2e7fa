"""A `manager` job's files on this worker: fetched into the cache, laid out per task.

`GET /tasks/{id}/files` names the job's files (path in the pack → SHA-256); each comes
from the cache (verified) or from `GET /files/{sha256}` (resumed after a break), and is
hard-linked (or copied, across disks) to `<work dir>/tasks/<task id>/<path>`. The task
runs there: its commands name the .blend and the output by their paths in the pack, so
no path of the submitter's machine is needed. A `shared` job needs none of this.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from flamenco_gui.worker.client import Backoff, FetchRefused, ManagerClient, ManagerUnreachable
from flamenco_gui.worker.file_cache import CorruptFetch, FileCache

log = logging.getLogger(__name__)

MANAGER = "manager"


class LayoutFailed(Exception):
    """The job's files could not be laid out (the task fails, with this reason)."""


@dataclass(frozen=True, slots=True)
class Layout:
    folder: Path  # where the task runs and its frames are written
    output: str  # the job's folder name under the manager's output root
    note: str  # for the task log: how many files, how many from the cache


def _inside(root: Path, path: str) -> Path:
    """`path` of the manifest under `root`; the manager checked it, and so do we."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts or "\\" in path:
        raise LayoutFailed(f"manifest path {path!r} is not inside the pack")
    return root.joinpath(*parts)


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class JobFiles:
    def __init__(self, client: ManagerClient, cache: FileCache, work_dir: Path) -> None:
        self._client = client
        self._cache = cache
        self._tasks_dir = work_dir / "tasks"

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        """A call, retried while the manager is away (it keeps the lease meanwhile)."""
        backoff = Backoff()
        while True:
            try:
                return await self._client.call(method, path, body)
            except ManagerUnreachable as exc:
                log.debug("%s %s, retrying: %s", method, path, exc)
                await backoff.sleep()

    async def _fetch(self, sha256: str, partial: Path) -> str:
        backoff = Backoff()
        while True:
            try:
                return await self._client.fetch_to(f"/files/{sha256}", partial)
            except ManagerUnreachable as exc:  # resumed from what arrived
                log.info("fetch of %s broke off (%s): resuming", sha256[:12], exc)
                await backoff.sleep()
            except FetchRefused as exc:
                raise LayoutFailed(f"the manager refused file {sha256[:12]}: {exc}") from exc

    async def lay_out(self, task_id: int) -> Layout | None:
        """The task's folder with its job's files, or None for a `shared` job."""
        reply = await self._call("GET", f"/tasks/{task_id}/files")
        if not reply.ok:
            raise LayoutFailed(f"the manager did not name the task's files: {reply.error}")
        data = reply.data
        if data.get("storage") != MANAGER:
            return None
        folder = self._tasks_dir / str(task_id)
        await asyncio.to_thread(shutil.rmtree, folder, True)
        stats = self._cache.stats
        before = (stats.hits, stats.fetched, stats.fetched_bytes, stats.corrupt)
        for entry in data["files"]:
            target = _inside(folder, entry["path"])
            try:
                cached = await self._cache.ensure(entry["sha256"], self._fetch)
            except CorruptFetch as exc:  # once more; a second bad copy fails the task
                log.warning("%s: fetching again", exc)
                try:
                    cached = await self._cache.ensure(entry["sha256"], self._fetch)
                except CorruptFetch as again:
                    raise LayoutFailed(str(again)) from again
            await asyncio.to_thread(_link, cached, target)
        await self._cache.evict({e["sha256"] for e in data["files"]})
        hits, fetched = stats.hits - before[0], stats.fetched - before[1]
        note = (
            f"job files: {len(data['files'])} in the pack, {hits} from the cache,"
            f" {fetched} fetched ({stats.fetched_bytes - before[2]} bytes),"
            f" {stats.corrupt - before[3]} corrupt in the cache"
        )
        return Layout(folder, str(data["output"]), note)

    async def clean_up(self, layout: Layout) -> None:
        """The task's folder goes once the task is over (its frames are on the manager)."""
        await asyncio.to_thread(shutil.rmtree, layout.folder, True)
