"""Tasks one by one: the 2015 `POST/PATCH/DELETE /tasks`, the wrangler's task actions,
and what a task's page shows (its history, what it waits for)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from flamenco_gui.compilers.kinds import task_kind
from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.compiling import (
    check_compiled_bytes,
    compile_settings,
    estimate_compiled_bytes,
    parse_settings_string,
)
from flamenco_gui.farm.errors import Conflict, Forbidden, NotFound
from flamenco_gui.farm.frames import Frames
from flamenco_gui.farm.leases import LeaseStore, task_state
from flamenco_gui.farm.retries import Retries
from flamenco_gui.farm.settings import FarmSettings
from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.farm.task_state_machine import ATTEMPT_REASON, Signals, TaskStateMachine
from flamenco_gui.limits import LIMITS
from flamenco_gui.rows import Fields, HistoryRow, TaskRow, TaskState

T = TaskStatus
PROGRESS_KEYS = ("frame_current", "activity", "progress", "time_cost", "error")


def _shown_on_worker(progress: Fields, *, from_worker: bool) -> Fields:
    """What a task's progress changes on its worker's row; a report from the worker
    itself also says it is alive."""
    shown: Fields = {k: progress[k] for k in ("activity", "time_cost") if k in progress}
    if from_worker:
        shown |= {"last_seen": progress["updated"], "connection": "online"}
    return shown


class TaskStore(LeaseStore, Protocol):
    def get_task(self, task_id: int) -> TaskRow | None: ...
    def insert_task(self, row: Fields) -> int: ...
    def update_task(self, task_id: int, fields: Fields) -> None: ...
    def report_progress(
        self, task_id: int, worker_id: int, lease: int | None, fields: Fields
    ) -> TaskState | None: ...
    def update_worker(self, worker_id: int, fields: Fields) -> bool: ...
    def update_worker_later(self, worker_id: int, fields: Fields) -> None: ...
    def delete_task(self, task_id: int) -> None: ...
    def list_tasks(
        self,
        *,
        status: str | None = None,
        job_id: int | None = None,
        worker_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[TaskRow], int]: ...
    def depends_on(self, task_id: int) -> list[int]: ...
    def history(self, task_id: int) -> list[HistoryRow]: ...


class LogDeleter(Protocol):
    def delete(self, task_id: int) -> None: ...


class Tasks:
    def __init__(
        self,
        store: TaskStore,
        changes: Changes,
        states: TaskStateMachine,
        retries: Retries,
        settings: FarmSettings,
        logs: LogDeleter,
        signals: Signals,
        frames: Frames,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signals = signals
        self._frames = frames
        self._store = store
        self._changes = changes
        self._states = states
        self._retries = retries
        self._settings = settings
        self._logs = logs
        self._clock = clock
        # Asked before a worker's `completed` is recorded (it raises to refuse): a
        # `manager` job's task must have its frames on the manager (farm/file_store.py).
        self.before_completion: Callable[[TaskState], None] = lambda task: None

    def get(self, task_id: int) -> TaskRow:
        row = self._store.get_task(task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        return row

    def page(self, **filters: Any) -> tuple[list[TaskRow], int]:
        return self._store.list_tasks(**filters)

    def dependencies(self, task_id: int) -> list[int]:
        """The tasks this one waits for."""
        return self._store.depends_on(task_id)

    def history(self, task_id: int) -> list[HistoryRow]:
        self.get(task_id)
        return self._store.history(task_id)

    def commands_for(self, task: TaskRow, system: str | None) -> list[list[str]]:
        """A task's commands with its paths in the form the worker's platform uses."""
        return self._settings.resolved(task["commands"] or [], system)

    def create(
        self, *, type: str, settings: str, priority: int, parser: str | None, task_id: int | None
    ) -> TaskRow:
        """The 2015 `POST /tasks`: one task from a settings JSON string."""
        parsed = parse_settings_string(settings)
        compiler, model = compile_settings(type, parsed)
        chunk = [(model.frame_start, model.frame_end)]
        estimate = estimate_compiled_bytes(compiler, model, chunk)
        check_compiled_bytes(estimate, LIMITS.max_compiled_bytes)
        commands = compiler.commands(model, model.frame_start, model.frame_end)
        now = self._clock()
        with self._changes.change():
            new_id = self._store.insert_task(
                {
                    "external_id": task_id,
                    "type": type,
                    "parser": parser or compiler.parser,
                    "settings": settings,
                    "commands": self._settings.with_variables(commands),
                    "needs": task_kind(commands),
                    "priority": priority,
                    "job_priority": priority,
                    "status": T.QUEUED.value,
                    "frame_start": model.frame_start,
                    "frame_end": model.frame_end,
                    "frame_current": model.frame_start,
                    "format": compiler.output_format(model),
                    "created": now,
                    "updated": now,
                }
            )
            self._changes.emit("task", new_id)
        self._signals.queued()
        return self.get(new_id)

    def update(self, task_id: int, fields: dict[str, Any], worker_id: int | None) -> None:
        """A partial update. From a worker (`worker_id` set) it must hold the lease."""
        new_status = T(fields["status"]) if fields.get("status") else None
        progress = {k: fields[k] for k in PROGRESS_KEYS if fields.get(k) is not None}
        if (
            worker_id is not None
            and progress
            and new_status in (None, T.RENDERING)
            and fields.get("priority") is None
            and self._report_progress(
                task_id, worker_id, fields.get("lease"), progress, fields.get("frames")
            )
        ):
            return
        if (
            worker_id is not None
            and new_status == T.COMPLETED
            and fields.get("priority") is None
            and fields.get("error") is None
            and self._complete(
                task_id, worker_id, fields.get("lease"), progress, fields.get("frames")
            )
        ):
            return
        task = task_state(self._store, task_id)
        if worker_id is not None:
            if new_status not in (None, T.RENDERING, T.COMPLETED, T.FAILED):
                raise Forbidden(
                    f"status: a worker may only report its task completed or failed, not "
                    f"{new_status.value} (that is the wrangler's decision)"
                )
            if fields.get("priority") is not None:
                raise Forbidden("priority: only the wrangler may change a task's priority")
            lease = fields.get("lease")
            holds = task["worker_id"] == worker_id and (lease is None or lease == task["lease"])
            if holds and task["status"] == T.COMPLETED and new_status == T.COMPLETED:
                return  # a completion delivered twice: recorded once
            if not holds or task["status"] != T.RENDERING:
                raise Conflict(
                    f"task {task_id} is not leased to worker {worker_id} "
                    f"(status {task['status']}, lease {task['lease']})"
                )
            if new_status == T.COMPLETED:
                self.before_completion(task)
        with self._changes.change():
            if fields.get("frames") and worker_id is not None:
                self._frames.record(task, worker_id, fields["frames"])
            if fields.get("priority") is not None:
                self._store.update_task(task_id, {"priority": fields["priority"]})
            moves = new_status is not None and new_status != task["status"]
            ends = moves and new_status == T.COMPLETED and task["status"] == T.RENDERING
            shown: Fields = {}
            holder = task["worker_id"] if task["status"] == T.RENDERING else None
            if progress:
                progress["updated"] = progress["last_progress"] = self._clock()
                if holder is not None:
                    shown = _shown_on_worker(progress, from_worker=worker_id is not None)
                if not ends:  # else the completion's own updates carry them
                    self._store.update_task(task_id, progress)
                    if holder is not None:
                        self._store.update_worker(holder, shown)
                        self._changes.emit_fields("worker", holder, shown)
            if new_status is not None and moves:
                reason = fields.get("error") or (ATTEMPT_REASON if worker_id else "by the wrangler")
                if new_status == T.FAILED and task["status"] == T.RENDERING:
                    self._retries.fail_attempt(task, reason)
                elif ends:
                    self._states.move(
                        task,
                        new_status,
                        reason,
                        outcome=new_status.value,
                        task_fields=progress,
                        worker_fields=shown,
                    )
                else:
                    self._states.move(task, new_status, reason, outcome=new_status.value)
            # What a move did not write itself (it emitted that, and recounted the job).
            extra: Fields = {} if ends else dict(progress)
            if fields.get("priority") is not None:
                extra["priority"] = fields["priority"]
            if extra or not moves:
                self._states.task_changed(task, job=False, fields=extra)

    def _report_progress(
        self,
        task_id: int,
        worker_id: int,
        lease: int | None,
        progress: Fields,
        frames: list[dict[str, Any]] | None,
    ) -> bool:
        """The hot path of a render: progress from the worker holding the task, the lease
        checked by the write itself. False when it does not hold it (the caller reads
        the task to say why)."""
        now = self._clock()
        progress = progress | {"updated": now, "last_progress": now}
        with self._changes.change():
            task = self._store.report_progress(task_id, worker_id, lease, progress)
            if task is None:
                return False
            if frames:
                self._frames.record(task, worker_id, frames)
            shown = _shown_on_worker(progress, from_worker=True)
            # The worker row's mirror of it: written behind (store/workers.py); the
            # window has it now, from the change.
            self._store.update_worker_later(worker_id, shown)
            self._changes.emit_fields("worker", worker_id, shown)
            self._states.task_changed(task, job=False, fields=progress)
        return True

    def _complete(
        self,
        task_id: int,
        worker_id: int,
        lease: int | None,
        progress: Fields,
        frames: list[dict[str, Any]] | None,
    ) -> bool:
        """The hot path of a cycle's end: the completion from the worker holding the
        task, checked by the write itself. False when the write refused it; the general
        path then reads the task and says why (another lease, a completion delivered
        twice, a `manager` task's frames not all on the manager)."""
        shown: Fields = {}
        if progress:
            now = self._clock()
            progress = progress | {"updated": now, "last_progress": now}
            shown = _shown_on_worker(progress, from_worker=True)
        with self._changes.change():
            task = self._states.complete_leased(task_id, worker_id, lease, progress, shown)
            if task is None:
                return False
            if frames:
                self._frames.record(task, worker_id, frames)
        return True

    def set_status(
        self, task_id: int, status: TaskStatus, reason: str = "by the wrangler"
    ) -> TaskRow:
        with self._changes.change():
            self._states.move(
                task_state(self._store, task_id), status, reason, outcome=status.value
            )
        return self.get(task_id)

    def delete(self, task_id: int) -> None:
        task = task_state(self._store, task_id)
        with self._changes.change():
            if task["status"] == T.RENDERING:
                self._states.move(task, T.CANCELED, "task deleted", outcome="canceled")
            self._store.delete_task(task_id)
            self._changes.emit("task", task_id, None)
            if task["job_id"] is not None:
                self._states.refresh_job(task["job_id"])
        self._logs.delete(task_id)
