"""Jobs: submission (compiled on a thread, inserted in slices), the job's view, and the
wrangler's job actions over all of a job's tasks.

Nothing here holds the loop for a big job. A 100,000-task job is compiled off the
loop, inserted a thousand tasks per transaction, and moved, re-prioritised or deleted
a slice at a time (each its own transaction, a few milliseconds) with the loop running
in between; one job's actions run one after another (a lock per job), so two of them
never interleave their slices.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from flamenco_gui.compilers import chunk_frames
from flamenco_gui.compilers.kinds import job_kinds, task_kind, waiting_reason
from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.compiling import (
    check_compiled_bytes,
    compile_settings,
    estimate_compiled_bytes,
)
from flamenco_gui.farm.errors import Conflict, Invalid, NotFound, Unavailable
from flamenco_gui.farm.eta import Eta
from flamenco_gui.farm.events import Change
from flamenco_gui.farm.file_store import MANAGER, SHARED, check_manager_job
from flamenco_gui.farm.frame_checks import frame_runs, sound_frames
from flamenco_gui.farm.frames import Frames, frame_rules
from flamenco_gui.farm.job_deps import JobDeps
from flamenco_gui.farm.settings import FarmSettings
from flamenco_gui.farm.slices import SliceSize
from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.farm.tags import clean_tags, missing_tags_reason
from flamenco_gui.farm.task_state_machine import SLICE, TaskStateMachine
from flamenco_gui.farm.wakeups import Wakeups
from flamenco_gui.limits import LIMITS
from flamenco_gui.rows import Fields, JobFile, JobRow, JobView, TaskState

log = logging.getLogger(__name__)
T = TaskStatus
MAX_TASKS_PER_JOB = 100_000
INSERT_CHUNK = 1000  # tasks per transaction when a big job is inserted

# A job action: the task statuses it moves, and where to. "pause" leaves running tasks
# to finish (their work is kept; one that fails or loses its worker comes back paused,
# task_state_machine.py); "pause_now" stops them too, and they render again on resume.
MOVES: dict[str, tuple[tuple[TaskStatus, ...], TaskStatus]] = {
    "pause": ((T.QUEUED,), T.PAUSED),
    "pause_now": ((T.QUEUED, T.RENDERING), T.PAUSED),
    "resume": ((T.PAUSED,), T.QUEUED),
    "cancel": ((T.QUEUED, T.RENDERING, T.PAUSED), T.CANCELED),
    "requeue": ((T.COMPLETED, T.FAILED, T.CANCELED, T.PAUSED), T.QUEUED),
    "requeue_failed": ((T.FAILED, T.CANCELED), T.QUEUED),
}


class JobStore(Protocol):
    def encode_tasks(self, tasks: Sequence[Fields]) -> tuple[list[str], list[tuple[Any, ...]]]: ...
    def insert_job(self, job: Fields) -> int: ...
    def insert_tasks(
        self, job_id: int, columns: Sequence[str], values: Sequence[tuple[Any, ...]]
    ) -> list[int]: ...
    def insert_deps(self, pairs: Sequence[tuple[int, int]]) -> None: ...
    def insert_job_files(self, job_id: int, files: Sequence[JobFile]) -> None: ...
    def blank_task(self) -> Fields: ...
    def get_job(self, job_id: int) -> JobRow | None: ...
    def list_jobs(
        self, status: str | None, limit: int, offset: int
    ) -> tuple[list[JobRow], int]: ...
    def job_task_counts(self, job_id: int) -> dict[str, int]: ...
    def accepted_kinds(self) -> set[str] | None: ...
    def enabled_worker_tags(self) -> list[str]: ...
    def set_job_priority(self, job_id: int, priority: int) -> None: ...
    def job_priority_slice(
        self, job_id: int, status: str, priority: int, limit: int, after: int = 0
    ) -> int | None: ...
    def job_task_slice(
        self, job_id: int, status: str, limit: int, after: int = 0
    ) -> list[TaskState]: ...
    def mark_job_deleted(self, job_id: int, when: float) -> None: ...
    def delete_job_task_slice(self, job_id: int, limit: int) -> list[int]: ...
    def remove_job_row(self, job_id: int) -> None: ...
    def unfinished_deletes(self) -> list[int]: ...


class JobFiles(Protocol):
    """What lives beside the database per task and per job: logs and previews."""

    def delete_logs(self, task_ids: Sequence[int]) -> None: ...
    def delete_previews(self, job_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class PreparedJob:
    """A validated, compiled job, ready to insert."""

    job: Fields
    tasks: list[Fields]
    task_columns: list[str]
    task_values: list[tuple[Any, ...]]
    # task index -> indexes of the tasks it waits for (always earlier in `tasks`)
    deps: dict[int, range]
    depends_on: list[int]  # the jobs it waits for (farm/job_deps.py)
    # a `manager` job's manifest, recorded with the job row (farm/file_store.py)
    files: Sequence[JobFile] = ()


class Jobs:
    def __init__(
        self,
        store: JobStore,
        changes: Changes,
        states: TaskStateMachine,
        settings: FarmSettings,
        wakeups: Wakeups,
        files: JobFiles,
        deps: JobDeps,
        frames: Frames,
        eta: Eta,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._frames = frames
        self._eta = eta
        self._store = store
        self._deps = deps
        self._changes = changes
        self._states = states
        self._settings = settings
        self._wakeups = wakeups
        self._files = files
        self._clock = clock
        self._locks: dict[int, asyncio.Lock] = {}

    # -- reading ---------------------------------------------------------------------

    def view(self, job: JobRow) -> JobView:
        counts = self._store.job_task_counts(job["id"])
        total = sum(counts.values())
        done = counts.get(T.COMPLETED, 0)
        progress = round(100.0 * done / total, 1) if total else 100.0
        reason = self._deps.reason(job["id"]) if job.get("waiting") else None
        if reason is None and counts.get(T.QUEUED, 0):  # that no enabled worker would take
            kinds = job_kinds(job["type"], job["settings"])
            reason = waiting_reason(kinds, self._store.accepted_kinds())
            if reason is None and job.get("tags"):
                reason = missing_tags_reason(job["tags"] or [], self._store.enabled_worker_tags())
        figures = self._eta.figures(job, counts)
        view = JobView(
            **job,
            depends_on=self._deps.parents(job["id"]),
            task_counts=counts,
            tasks_total=total,
            progress=progress,
            waiting_reason=reason,
            elapsed=figures["elapsed"],
            remaining=figures["remaining"],
            eta_note=figures["eta_note"],
            eta_at=figures["eta_at"],
        )
        view["tags"] = job.get("tags") or []
        return view

    def get(self, job_id: int) -> JobView:
        row = self._store.get_job(job_id)
        if row is None:
            raise NotFound(f"job {job_id} does not exist")
        return self.view(row)

    def load(self, job_id: int) -> JobView | None:
        """The committed job for an event (None: gone)."""
        row = self._store.get_job(job_id)
        return None if row is None else self.view(row)

    def page(
        self, *, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[JobView], int]:
        rows, total = self._store.list_jobs(status, limit, offset)
        return [self.view(r) for r in rows], total

    # -- submission ------------------------------------------------------------------

    def prepare(
        self,
        *,
        name: str,
        type: str,
        settings: dict[str, Any],
        priority: int,
        chunk_size: int,
        preview_first: int | None = None,
        tags: Sequence[str] = (),
        depends_on: Sequence[int] = (),
        storage: str = SHARED,
        files: Sequence[JobFile] = (),
        skip_existing: bool = False,
    ) -> PreparedJob:
        """Validate and compile a job into rows. Pure but for `skip_existing` (which
        reads the output folder): `submit` runs it on a thread, so a job of 100,000
        tasks does not stall the loop (and the window)."""
        try:
            job_tags = clean_tags(tags)
        except ValueError as e:
            raise Invalid(f"tags: {e}") from None
        compiler, model = compile_settings(type, settings)
        if storage == MANAGER:
            check_manager_job(model, files)
        elif files:
            raise Invalid("files: only a job with storage 'manager' has a manifest")
        size = chunk_size if compiler.chunked else model.frame_end - model.frame_start + 1
        chunks = chunk_frames(model.frame_start, model.frame_end, size)
        if skip_existing and compiler.chunked:
            chunks = self._missing_chunks(type, model.model_dump(), size)
        finishing = compiler.finishing_tasks(model)
        if len(chunks) + len(finishing) > MAX_TASKS_PER_JOB:
            raise Invalid(
                f"chunk_size: {len(chunks)} tasks for frames {model.frame_start}-{model.frame_end};"
                f" at most {MAX_TASKS_PER_JOB} per job, use a larger chunk_size"
            )
        extra = sum(len(json.dumps(f.commands)) for f in finishing)
        estimate = estimate_compiled_bytes(compiler, model, chunks, extra)
        check_compiled_bytes(estimate, LIMITS.max_compiled_bytes)
        now = self._clock()
        output_format = compiler.output_format(model)

        def row(type_: str, parser: str, start: int, end: int, commands: list[list[str]]) -> Fields:
            return self._task_row(
                type_, parser, start, end, commands, priority, output_format, storage
            )

        tasks = [
            row(type, compiler.parser, start, end, compiler.commands(model, start, end))
            for start, end in chunks
        ]
        if preview_first:
            # Every Nth chunk first, so the whole shot can be judged early; then the rest.
            for task in tasks[::preview_first]:
                task["priority"] = 1
        tasks += [row(f.type, f.parser, f.frame_start, f.frame_end, f.commands) for f in finishing]
        deps = {len(chunks) + i: range(len(chunks)) for i in range(len(finishing))}
        job = {
            "name": name,
            "type": type,
            "settings": model.model_dump(),
            "priority": priority,
            "chunk_size": chunk_size,
            "preview_first": preview_first,
            "tags": job_tags or None,
            "storage": storage if storage == MANAGER else None,
            "status": T.QUEUED.value,
            "frame_start": model.frame_start,
            "frame_end": model.frame_end,
            "created": now,
            "updated": now,
        }
        columns, values = self._store.encode_tasks(tasks)
        return PreparedJob(job, tasks, columns, values, deps, list(depends_on), files)

    def _task_row(
        self,
        type_: str,
        parser: str,
        start: int,
        end: int,
        commands: list[list[str]],
        job_priority: int,
        output_format: str,
        storage: str = SHARED,
    ) -> Fields:
        now = self._clock()
        return {
            "type": type_,
            "parser": parser,
            # A manager job's paths are relative to its pack: no variable applies.
            "commands": commands if storage == MANAGER else self._settings.with_variables(commands),
            "needs": task_kind(commands),
            "priority": 0,
            "job_priority": job_priority,
            "status": T.QUEUED.value,
            "frame_start": start,
            "frame_end": end,
            "frame_current": start,
            "format": output_format,
            "created": now,
            "updated": now,
        }

    def _missing_chunks(
        self, type_: str, settings: dict[str, Any], size: int
    ) -> list[tuple[int, int]]:
        """`skip_existing`: chunks of only the frames not already there and sound."""
        rules = frame_rules(type_, settings)
        done = sound_frames(type_, settings, rules)
        todo = [
            f for f in range(settings["frame_start"], settings["frame_end"] + 1) if f not in done
        ]
        if not todo:
            raise Invalid(
                "skip_existing: every frame is already in the output and sound; nothing to render"
            )
        return frame_runs(todo, size)

    async def rerender(self, job_id: int, frames: Sequence[int]) -> JobView:
        """New tasks for exactly `frames` (consecutive ones chunked by the job's chunk
        size) in the job, queued; the job is queued again with them. The video step, if
        any, is not made again (requeue its task once the frames are sound)."""
        job = self.get(job_id)
        if job["frame_start"] is None or job["frame_end"] is None:
            raise Invalid(f"job {job_id} has no frames to render again")
        outside = [f for f in frames if not job["frame_start"] <= f <= job["frame_end"]]
        if outside:
            raise Invalid(
                f"frames: {outside[0]} is outside the job's frames "
                f"{job['frame_start']}-{job['frame_end']}"
            )
        if not frames:
            return job
        compiler, model = compile_settings(job["type"], job["settings"])
        if not compiler.chunked:
            raise Invalid(f"job {job_id}: a {job['type']} job renders no frames one by one")
        chunks = frame_runs(frames, job["chunk_size"] or 1)
        fmt = compiler.output_format(model)
        tasks = [
            self._task_row(
                job["type"],
                compiler.parser,
                a,
                b,
                compiler.commands(model, a, b),
                job["priority"],
                fmt,
                job.get("storage") or SHARED,
            )
            for a, b in chunks
        ]
        columns, values = self._store.encode_tasks(tasks)
        async with self._sliced(job_id):
            for start in range(0, len(tasks), INSERT_CHUNK):
                with self._changes.change():
                    ids = self._store.insert_tasks(
                        job_id, columns, values[start : start + INSERT_CHUNK]
                    )
                    blank = self._store.blank_task()
                    for task_id, task in zip(ids, tasks[start : start + INSERT_CHUNK], strict=True):
                        self._changes.emit(
                            "task", task_id, {**blank, **task, "id": task_id, "job_id": job_id}
                        )
                    self._states.refresh_job(job_id)
                await asyncio.sleep(0)
        self._eta.forget(job_id)
        self._wakeups.queued()
        return self.get(job_id)

    def _begin(self, prepared: PreparedJob) -> int:
        with self._changes.change():
            job_id = self._store.insert_job({**prepared.job, "tasks_expected": len(prepared.tasks)})
            self._deps.attach(job_id, self._deps.check(prepared.depends_on))
            if prepared.files:  # with the job: no task of it is ever seen without them
                self._store.insert_job_files(job_id, prepared.files)
            return job_id

    def _add_tasks(
        self, job_id: int, prepared: PreparedJob, start: int, end: int, done: list[int]
    ) -> None:
        """One transaction of tasks (with their dependencies, so no task is ever seen
        without them); events are built from the rows in hand. `done` collects ids."""
        with self._changes.change():
            ids = self._store.insert_tasks(
                job_id, prepared.task_columns, prepared.task_values[start:end]
            )
            done += ids
            pairs = [
                (done[i], done[j])
                for i in range(start, min(end, len(done)))
                for j in prepared.deps.get(i, ())
            ]
            if pairs:
                self._store.insert_deps(pairs)
            blank = self._store.blank_task()
            for task_id, task in zip(ids, prepared.tasks[start:end], strict=True):
                row = {**blank, **task, "id": task_id, "job_id": job_id}
                self._changes.emit("task", task_id, row)
            if end >= len(prepared.tasks):  # counting a big job's tasks once is enough
                self._states.refresh_job(job_id)
        self._wakeups.queued()

    def _abandon(self, job_id: int) -> None:
        """Undo a job whose insert failed half-way, so nothing half-written stays."""
        try:
            self._delete_now(job_id)
        except Unavailable:
            log.error("job %s is incomplete; it is removed at the next start", job_id)

    def commit(self, prepared: PreparedJob) -> JobView:
        job_id = self._begin(prepared)
        try:
            self._add_tasks(job_id, prepared, 0, len(prepared.tasks), [])
        except BaseException:
            self._abandon(job_id)
            raise
        return self.get(job_id)

    def create(self, **job: Any) -> JobView:
        """Submit a job in one go (small jobs; see `submit` for the loop-friendly way)."""
        return self.commit(self.prepare(**job))

    async def submit(self, **job: Any) -> JobView:
        """Submit a job without stalling the loop: compiled on a thread, inserted in
        chunks with the loop running in between. Its first tasks may start before the
        last are in; the answer (2xx) comes once every task is committed."""
        prepared = await asyncio.to_thread(lambda: self.prepare(**job))
        with self._changes.unbatched():
            job_id = self._begin(prepared)
            ids: list[int] = []
            try:
                for start in range(0, len(prepared.tasks), INSERT_CHUNK):
                    self._add_tasks(job_id, prepared, start, start + INSERT_CHUNK, ids)
                    await asyncio.sleep(0)
            except BaseException:
                self._abandon(job_id)
                raise
        return self.get(job_id)

    # -- the wrangler's actions, a slice at a time --------------------------------------

    @asynccontextmanager
    async def _sliced(self, job_id: int) -> AsyncIterator[None]:
        """One action at a time on this job, each slice committed on its own."""
        async with self._locks.setdefault(job_id, asyncio.Lock()):
            self.get(job_id)
            with self._changes.unbatched():
                yield

    async def action(self, job_id: int, action: str) -> JobView:
        """pause | pause_now | resume | cancel | requeue | requeue_failed, over the job's
        tasks; release: start now, without waiting for the jobs it depends on."""
        if action == "release":
            self.get(job_id)
            self._deps.release(job_id)
            return self.get(job_id)
        if action not in MOVES:
            known = ", ".join([*MOVES, "release"])
            raise Invalid(f"action: unknown job action {action!r}; known: {known}")
        sources, target = MOVES[action]
        async with self._sliced(job_id):
            counts = self._store.job_task_counts(job_id)
            if not any(counts.get(s, 0) for s in sources):
                status = self.get(job_id)["status"]
                has = " or ".join(sources)
                raise Conflict(f"job {job_id} is {status}: it has no {has} tasks to {action}")
            await self._move_sliced(job_id, sources, target, f"job {action} by the wrangler")
        return self.get(job_id)

    async def _move_sliced(
        self, job_id: int, sources: Sequence[TaskStatus], target: TaskStatus, reason: str
    ) -> None:
        for source in sources:  # one status at a time, each walked by id
            # Sized per status: a status with a few tasks takes microseconds, and would
            # grow the next status's first slice to the most (138 ms measured for a
            # requeue's 4,000 canceled tasks after its few completed ones).
            size = SliceSize(SLICE)
            after: int | None = 0
            while after is not None:
                with size.timed(), self._changes.change():
                    after = self._states.move_slice(
                        job_id, source, target, reason, after=after, limit=size.value
                    )
                await asyncio.sleep(0)

    async def set_priority(self, job_id: int, priority: int) -> JobView:
        async with self._sliced(job_id):
            with self._changes.change():
                self._store.set_job_priority(job_id, priority)
                self._states.refresh_job(job_id)
            for status in TaskStatus:
                size = SliceSize(SLICE)  # per status, as in _move_sliced
                after: int | None = 0
                while after is not None:
                    with size.timed(), self._changes.change():
                        after = self._store.job_priority_slice(
                            job_id, status.value, priority, size.value, after
                        )
                    await asyncio.sleep(0)
        return self.get(job_id)

    async def delete(self, job_id: int) -> None:
        """Canceled first, a slice at a time; then gone at once for every reader
        (marked), then removed a slice at a time. A crash half-way leaves a marked job
        that the next start removes (or a partly canceled one, to delete again).

        Canceled before it is marked: a marked job's queued tasks stay in the dispatch
        index until deleted, and every pull would walk past all of them (a second's
        stall per pull at 100,000 tasks)."""
        async with self._sliced(job_id):
            sources = (T.QUEUED, T.PAUSED, T.RENDERING)
            await self._move_sliced(job_id, sources, T.CANCELED, "job deleted")
            with self._changes.change():
                self._states.move_all(job_id, T.RENDERING, T.CANCELED, "job deleted")
                job = self._store.get_job(job_id)
                self._store.mark_job_deleted(job_id, self._clock())
                self._changes.emit("job", job_id, None)
                self._deps.parent_gone(job_id)
            if job is not None:  # what the farm did for it outlives it (read in slices)
                summary = await self._frames.summary(job_id)
                with self._changes.change():
                    self._frames.summarise(job, summary, self._clock())
            size = SliceSize(SLICE)
            while True:
                with size.timed():
                    ids = self._delete_slice(job_id, size.value)
                if not ids:
                    break
                await asyncio.to_thread(self._files.delete_logs, ids)
            while True:
                with size.timed(), self._changes.change():
                    if not self._frames.delete_slice(job_id, size.value):
                        break
                await asyncio.sleep(0)
            with self._changes.change():
                self._store.remove_job_row(job_id)
            await asyncio.to_thread(self._files.delete_previews, job_id)
        self._locks.pop(job_id, None)

    def _delete_slice(self, job_id: int, limit: int = SLICE) -> list[int]:
        with self._changes.change():
            ids = self._store.delete_job_task_slice(job_id, limit)
            if ids:
                self._changes.emit_bulk(Change("tasks", job_id, {"ids": ids, "fields": None}))
        return ids

    def _delete_now(self, job_id: int) -> None:
        """Remove a job whole, without yielding (start-up, a failed submission)."""
        with self._changes.change():
            self._store.mark_job_deleted(job_id, self._clock())
            self._changes.emit("job", job_id, None)
        while ids := self._delete_slice(job_id):
            self._files.delete_logs(ids)
        with self._changes.change():
            while self._frames.delete_slice(job_id, SLICE):
                pass
            self._store.remove_job_row(job_id)
        self._files.delete_previews(job_id)

    def finish_after_start(self) -> None:
        """Jobs a crash cut short (a submission, a deletion) are removed at start."""
        for job_id in self._store.unfinished_deletes():
            log.warning("removing job %s: its submission or deletion was cut short", job_id)
            self._delete_now(job_id)
