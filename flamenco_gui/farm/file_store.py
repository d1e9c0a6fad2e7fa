"""Files that travel through the manager (`manager` storage, docs/storage.md).

The submitter asks which of a pack's files the manager lacks (`missing`), uploads each
(`receive`: streamed to disk a chunk at a time, hashed as it arrives, kept only once
its bytes match its SHA-256, resumed from what an earlier, cut-short upload left);
the job records its manifest (farm/jobs.py, in the transaction that inserts the job).
Workers fetch the files of the task they render (`readable`), and send every saved
frame back the same way, after which `place_frame` puts it in the job's output folder.
Files no job references any more are removed after a grace period (`collect`).

Every file operation runs on a thread: nothing here holds the loop for a big file.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from flamenco_gui.farm.leases import LeaseStore, leased_task
from flamenco_gui.file_hash import file_sha256
from flamenco_gui.file_pipe import PipedWriter
from flamenco_gui.limits import LIMITS
from flamenco_gui.rows import JobFile, JobRow, TaskState

log = logging.getLogger(__name__)

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MANAGER = "manager"
SHARED = "shared"
# How often unreferenced files are looked for (their grace period is a setting).
COLLECT_EVERY = 600.0
STORAGE_MEMO = 10_000  # jobs whose storage is remembered (cleared past that)


class InsufficientStorage(Conflict):
    """The data dir's disk cannot hold the upload (507)."""

    status = 507


class ArrivedFrames(Protocol):
    """The manager's check of a frame that came back (farm/frame_checks.py)."""

    def frame_of(self, job: JobRow, path: str, frames: range) -> int | None: ...
    async def check_arrived(self, job: JobRow, frame: int, path: str) -> str | None: ...


class Blobs(Protocol):
    """The content-addressed folder (store/blobs.py). Blocking: called on a thread."""

    def path(self, sha256: str) -> Path: ...
    def stored_size(self, sha256: str) -> int | None: ...
    def partial_size(self, sha256: str) -> int: ...
    def open_upload(self, sha256: str, size: int) -> Any: ...
    def finish(self, upload: Any) -> None: ...
    def discard(self, sha256: str) -> None: ...
    def remove(self, sha256: str) -> int: ...
    def place(self, sha256: str, target: Path) -> None: ...
    def older_than(self, age: float) -> Any: ...
    def drop_stale_partials(self, age: float) -> int: ...
    def used_bytes(self) -> int: ...
    def free_bytes(self) -> int: ...
    def touch(self, sha256: str) -> None: ...


class FileStoreDB(LeaseStore, Protocol):
    def job_files(self, job_id: int) -> list[JobFile]: ...
    def referenced(self, hashes: Sequence[str]) -> set[str]: ...
    def worker_may_fetch(self, worker_id: int, sha256: str) -> bool: ...
    def get_job(self, job_id: int) -> JobRow | None: ...
    def add_task_frame(self, job_id: int, task_id: int, path: str) -> None: ...
    def task_frame_count(self, task_id: int) -> int: ...


def check_hash(sha256: str) -> str:
    if not SHA256.match(sha256):
        raise Invalid(f"sha256: {sha256[:80]!r} is not 64 lowercase hex digits")
    return sha256


def pack_path(path: str, field: str = "path") -> str:
    """A path inside a pack or an output folder: relative, `/`-separated, no `..`.
    Anything else could reach outside the folder it is laid out in."""
    p = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or "\0" in path
        or p.is_absolute()
        or re.match(r"^[A-Za-z]:", path)
        or any(part in ("..", "") for part in path.split("/"))
    ):
        raise Invalid(f"{field}: {path[:200]!r} is not a relative path inside the pack")
    return path


def output_folder_name(job: JobRow) -> str:
    """The job's folder under the output root: its name made safe for any file system
    (`/`, `\\`, `:` and the like become `_`); a name with nothing left is `job-<id>`."""
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", job["name"]).strip(" .")
    return name or f"job-{job['id']}"


def check_manifest(files: Sequence[JobFile]) -> None:
    """A job's manifest before anything is stored: bounded, each path once, safe."""
    if len(files) > LIMITS.max_job_files:
        raise TooLarge(f"files: {len(files)} files; at most max_job_files ({LIMITS.max_job_files})")
    seen: set[str] = set()
    for f in files:
        pack_path(f["path"], "files.path")
        check_hash(f["sha256"])
        if f["path"] in seen:
            raise Invalid(f"files.path: {f['path']!r} is listed twice")
        seen.add(f["path"])


def check_manager_job(model: object, files: Sequence[JobFile]) -> None:
    """A `manager` job names its files by their path in the pack: the .blend must be
    one of them, and the output is relative (it lands in the job's output folder), so
    no path of the submitter's machine reaches a command."""
    check_manifest(files)
    filepath = getattr(model, "filepath", None)
    if filepath is not None and filepath not in {f["path"] for f in files}:
        raise Invalid(f"settings.filepath: {filepath[:200]!r} is not a file of the manifest")
    output = getattr(model, "render_output", None)
    if output is not None:
        pack_path(output, "settings.render_output")


@dataclass(slots=True)
class Usage:
    """The store's disk use, counted once at start and kept up to date."""

    bytes: int = 0
    files_removed: int = 0


class FileStore:
    def __init__(
        self,
        db: FileStoreDB,
        blobs: Blobs,
        output_root: Path,
        grace: Callable[[], float],
        changes: Changes,
        frames: ArrivedFrames,
    ) -> None:
        self._db = db
        self._frames = frames
        self._changes = changes
        self._blobs = blobs
        self.output_root = output_root
        self._grace = grace
        self._uploading: set[str] = set()
        self.usage = Usage()
        self._storage: dict[int, str | None] = {}  # job id -> its storage (never changes)

    async def start(self) -> None:
        self.usage.bytes = await asyncio.to_thread(self._blobs.used_bytes)

    # -- the submitter ---------------------------------------------------------------

    async def missing(self, files: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
        """Which (sha256, size) the store lacks, with how much of each it already holds
        (an upload resumes there)."""
        if len(files) > LIMITS.max_check_files:
            raise TooLarge(
                f"files: {len(files)} asked; at most max_check_files ({LIMITS.max_check_files})"
            )
        for sha, _size in files:
            check_hash(sha)

        def look() -> list[dict[str, Any]]:
            out = []
            for sha, size in files:
                if self._blobs.stored_size(sha) is None:
                    out.append(
                        {"sha256": sha, "size": size, "offset": self._blobs.partial_size(sha)}
                    )
            return out

        return await asyncio.to_thread(look)

    async def require_stored(self, files: Sequence[JobFile]) -> None:
        """Every file of a manifest is in the store, at its size (checked at submission);
        each one's grace period starts again."""

        def look() -> list[str]:
            bad = []
            for f in files:
                if self._blobs.stored_size(f["sha256"]) != f["size"]:
                    bad.append(f"{f['path']} ({f['sha256'][:12]}…)")
                else:
                    self._blobs.touch(f["sha256"])
            return bad

        bad = await asyncio.to_thread(look)
        if bad:
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise Invalid(
                f"files: not uploaded yet: {', '.join(bad[:3])}{more}; PUT /files/{{sha256}} first"
            )

    async def receive(
        self, sha256: str, size: int, offset: int, chunks: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        """One upload (or the rest of one, from `offset`), streamed to disk. Answers
        whether the file is now stored and how many of its bytes the manager holds."""
        check_hash(sha256)
        if size > LIMITS.max_file_bytes:
            raise TooLarge(f"size: {size} bytes; at most max_file_bytes ({LIMITS.max_file_bytes})")
        if await asyncio.to_thread(self._blobs.stored_size, sha256) is not None:
            return {"sha256": sha256, "size": size, "stored": True, "offset": size}
        if sha256 in self._uploading:
            raise Conflict(f"{sha256}: another upload of this file is under way")
        self._uploading.add(sha256)
        try:
            return await self._receive(sha256, size, offset, chunks)
        finally:
            self._uploading.discard(sha256)

    async def _receive(
        self, sha256: str, size: int, offset: int, chunks: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        held = await asyncio.to_thread(self._blobs.partial_size, sha256)
        if offset != held:
            raise Conflict(
                f"offset: {offset}, but the manager holds {held} bytes; resume at {held}"
            )
        free = await asyncio.to_thread(self._blobs.free_bytes)
        if size - held > free:
            raise InsufficientStorage(
                f"size: {size - held} bytes to come, {free} free on the manager's data dir"
            )
        upload = await asyncio.to_thread(self._blobs.open_upload, sha256, size)
        before = received = upload.offset
        writer = PipedWriter(upload.write, upload.hash)  # on threads, batched
        finished = False
        try:
            async for chunk in chunks:
                received += len(chunk)
                if received > size:
                    await writer.settle()
                    await asyncio.to_thread(upload.close)
                    await asyncio.to_thread(self._blobs.discard, sha256)
                    self.usage.bytes -= upload.offset
                    finished = True
                    raise TooLarge(f"body: more than the declared size ({size} bytes)")
                await writer.add(chunk)
            await writer.flush()
            if upload.offset < size:
                return {"sha256": sha256, "size": size, "stored": False, "offset": upload.offset}
            finished = True
            try:
                await asyncio.to_thread(self._blobs.finish, upload)
            except Exception as exc:  # HashMismatch: the partial is gone
                self.usage.bytes -= upload.offset
                raise Invalid(f"body: {exc}") from exc
            return {"sha256": sha256, "size": size, "stored": True, "offset": size}
        finally:
            if not finished:  # broken off: what arrived stays, to resume from
                await writer.settle()
                await asyncio.to_thread(upload.close)
            self.usage.bytes += upload.offset - before

    # -- workers ---------------------------------------------------------------------

    def manifest(self, task_id: int, worker_id: int | None) -> dict[str, Any]:
        """What a worker lays out for the task it renders: the job's storage mode, its
        output folder's name and (for `manager`) its files."""
        try:
            task = leased_task(self._db, task_id, worker_id, None)
        except Conflict as exc:  # as GET /tasks/{id}: a worker reads only its own task
            raise Forbidden(f"task {task_id}: a worker may only read the task it renders") from exc
        job = self._job(task["job_id"])
        storage = job.get("storage") or SHARED
        files = self._db.job_files(job["id"]) if storage == MANAGER else []
        return {"storage": storage, "output": output_folder_name(job), "files": files}

    def readable(self, sha256: str, worker_id: int | None) -> Path:
        """A stored file for a worker rendering a job that uses it (or the wrangler)."""
        check_hash(sha256)
        if worker_id is not None and not self._db.worker_may_fetch(worker_id, sha256):
            raise Forbidden(f"{sha256}: not a file of the task this worker renders")
        path = self._blobs.path(sha256)
        if not path.is_file():
            raise NotFound(f"{sha256}: not in the manager's file store")
        return path

    def output_dir(self, job: JobRow) -> Path:
        return self.output_root / output_folder_name(job)

    async def place_frame(
        self, task_id: int, worker_id: int | None, lease: int | None, path: str, sha256: str
    ) -> dict[str, Any]:
        """A frame the worker uploaded (`PUT /files/{sha256}`) goes to the job's output
        folder, and is checked there as the worker checked it before sending (the one
        place a frame arrives on the manager). A frame that fails is taken out again and
        refused (422 naming frame and check): the worker fails its task with that reason
        and the task is retried like any failure. Idempotent: a retry after a lost
        answer finds the frame in place and answers the same."""
        pack_path(path)
        check_hash(sha256)
        task = leased_task(self._db, task_id, worker_id, lease)
        job = self._job(task["job_id"])
        target = self.output_dir(job) / path
        size = await asyncio.to_thread(self._blobs.stored_size, sha256)
        if size is None:
            if not await asyncio.to_thread(_same_file, target, sha256):
                raise NotFound(f"{sha256}: upload the frame (PUT /files/{{sha256}}) first")
        else:
            await asyncio.to_thread(self._blobs.place, sha256, target)
            self.usage.bytes -= size
        frame = self._frames.frame_of(job, path, range(task["frame_start"], task["frame_end"] + 1))
        if frame is not None:
            reason = await self._frames.check_arrived(job, frame, str(target))
            if reason is not None:
                await asyncio.to_thread(target.unlink, True)
                raise Invalid(f"{reason} (checked on the manager after it came back)")
        leased_task(self._db, task_id, worker_id, lease)  # still ours after the awaits
        with self._changes.change():
            self._db.add_task_frame(job["id"], task_id, path)
        return {"path": str(target), "sha256": sha256}

    def require_frames(self, task: TaskState) -> None:
        """A worker's `completed` for a task of a `manager` job it renders (the lease
        checked by farm/tasks.py): refused (409) until the task has placed a frame for
        each frame of its range. A job's storage never changes, so it is read once per
        job: a completion of a shared job costs no statement here."""
        if task["job_id"] is None or self._storage_of(task["job_id"]) != MANAGER:
            return
        task_id = task["id"]
        expected = task["frame_end"] - task["frame_start"] + 1
        placed = self._db.task_frame_count(task_id)
        if placed < expected:
            raise Conflict(
                f"task {task_id}: {placed} of its {expected} frames are on the manager;"
                f" send them (POST /tasks/{task_id}/frames) before it completes"
            )

    def _storage_of(self, job_id: int) -> str | None:
        if job_id not in self._storage:
            if len(self._storage) >= STORAGE_MEMO:
                self._storage.clear()
            job = self._db.get_job(job_id)
            self._storage[job_id] = job.get("storage") if job is not None else None
        return self._storage[job_id]

    def _job(self, job_id: int | None) -> JobRow:
        job = self._db.get_job(job_id) if job_id is not None else None
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        return job

    # -- clean-up --------------------------------------------------------------------

    async def collect(self) -> int:
        """Remove stored files that no job references and nobody used for the grace
        period, and uploads abandoned as long. Returns the bytes freed."""
        grace = self._grace()
        old = await asyncio.to_thread(lambda: list(self._blobs.older_than(grace)))
        keep: set[str] = set()
        for start in range(0, len(old), 500):  # the loop runs between batches
            keep |= self._db.referenced([sha for sha, _ in old[start : start + 500]])
            await asyncio.sleep(0)
        doomed = [sha for sha, _ in old if sha not in keep]

        def remove() -> int:
            freed = sum(self._blobs.remove(sha) for sha in doomed)
            return freed + self._blobs.drop_stale_partials(grace)

        freed = await asyncio.to_thread(remove)
        self.usage.bytes -= freed
        self.usage.files_removed += len(doomed)
        if doomed:
            log.info("file store: removed %d unreferenced file(s), %d bytes", len(doomed), freed)
        return freed

    async def collect_forever(self) -> None:
        while True:
            try:
                await self.collect()
            except OSError as exc:
                log.warning("file store clean-up failed: %s", exc)
            await asyncio.sleep(COLLECT_EVERY)


def _same_file(target: Path, sha256: str) -> bool:
    return target.is_file() and file_sha256(target) == sha256
