"""The only code that sets a task's or a job's status.

A task moves one at a time where it has a worker (a rendering task: its attempt is
closed, its worker freed and told through its lease watch), and in sets otherwise: a
job action over 100,000 queued tasks is one UPDATE per slice of `SLICE` tasks, not a
loop of row updates (which held the loop for seconds). Whatever moves, the job's
status is derived again from its task counts (kept by triggers, so that costs no scan)
and the window hears of it after the commit: one event per moved task with a worker,
one "these tasks of job N now have these fields" event per slice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from flamenco_gui.farm.changes import LOAD
from flamenco_gui.farm.errors import Conflict
from flamenco_gui.farm.events import Change, Kind
from flamenco_gui.farm.log_notes import LogNotes
from flamenco_gui.farm.states import (
    FINISHED,
    JobStatus,
    TaskStatus,
    can_transition,
    job_status,
)
from flamenco_gui.rows import Fields, TaskState

T = TaskStatus
ATTEMPT_REASON = "by the worker"  # what the attempt trigger writes (schema v15)
SLICE = 500  # tasks per statement of a set-based move: a few milliseconds each


class StateStore(Protocol):
    def move_task(self, task_id: int, fields: Fields) -> None: ...
    def move_tasks(self, task_ids: Sequence[int], fields: Fields) -> None: ...
    def amend_attempt(self, task_id: int, lease: int, fields: Fields) -> None: ...
    def complete_leased_task(
        self, task_id: int, worker_id: int, lease: int | None, fields: Fields
    ) -> TaskState | None: ...
    def update_worker(self, worker_id: int, fields: Fields) -> bool: ...
    def update_worker_later(self, worker_id: int, fields: Fields) -> None: ...
    def waiting_dependents(self, task_ids: Sequence[int]) -> list[TaskState]: ...
    def job_status_and_counts(self, job_id: int) -> tuple[str, dict[str, int]] | None: ...
    def set_job_status(
        self, job_id: int, status: str, when: float, started: bool = False
    ) -> None: ...
    def job_task_slice(
        self, job_id: int, status: str, limit: int, after: int = 0
    ) -> list[TaskState]: ...


class ChangeSink(Protocol):
    def emit(self, kind: Kind, row_id: int, row: object = LOAD) -> None: ...
    def emit_fields(self, kind: Kind, row_id: int, fields: Fields) -> None: ...
    def emit_bulk(self, change: Change) -> None: ...


class Signals(Protocol):
    def queued(self) -> None: ...
    def lease_changed(self, worker_id: int | None) -> None: ...


def target_fields(new: TaskStatus, *, was_rendering: bool, reason: str, now: float) -> Fields:
    """The columns a move to `new` sets, besides the attempt's bookkeeping."""
    fields: Fields = {"status": new.value, "updated": now}
    if new in FINISHED or new == T.PAUSED:
        fields["finished"] = now if new in FINISHED else None
    if new == T.COMPLETED:
        fields["progress"] = 100.0
    if new in (T.FAILED, T.CANCELED):
        fields["error"] = reason  # why it ended, shown beside the task
    if new == T.QUEUED:
        fields |= {"worker_id": None, "finished": None}
        if not was_rendering:
            fields |= {"attempts": 0, "progress": 0.0, "error": None}
    return fields


class TaskStateMachine:
    def __init__(
        self,
        store: StateStore,
        changes: ChangeSink,
        signals: Signals,
        clock: Callable[[], float] = time.time,
        notes: LogNotes | None = None,
    ) -> None:
        """`notes`: the manager's lines in task logs (attempt headers, why one ended)."""
        self._notes = notes
        self._store = store
        self._changes = changes
        self._signals = signals
        self._clock = clock
        # Told of each job status change inside its change (farm/job_deps.py).
        self.on_job_status: Callable[[int, str], None] = lambda job_id, status: None

    # -- one task ------------------------------------------------------------------------

    def start(
        self,
        task: TaskState,
        worker_id: int,
        worker_fields: Fields,
        worker_name: str | None = None,
    ) -> int:
        """A queued task leased to `worker_id` (the claim); returns the new lease.
        `worker_fields` (the worker's report) join the worker row's one update;
        `worker_name`, when the caller has it, heads the attempt in the task's log."""
        now = self._clock()
        lease = task["lease"] + 1
        fields: Fields = {
            "status": T.RENDERING.value,
            "worker_id": worker_id,
            "lease": lease,
            "started": now,
            "updated": now,
            "last_progress": now,
            "frame_current": task["frame_start"],
            "progress": 0.0,
            "activity": None,
            "error": None,
            "time_cost": None,
        }
        self._store.move_task(task["id"], fields)  # its attempt opens (a trigger, schema v15)
        worker: Fields = worker_fields | {
            "current_task": task["id"],
            "activity": f"task {task['id']}",
            "time_cost": 0.0,
        }
        self._store.update_worker(worker_id, worker)
        self._changes.emit_fields("worker", worker_id, worker)
        # One more rendering task leaves a rendering job rendering: no recount.
        self.task_changed(task, job=task.get("job_status") != JobStatus.RENDERING, fields=fields)
        if task["job_id"] is not None:
            self._changes.emit("job", task["job_id"])
        if self._notes is not None:
            self._notes.attempt_started(task["id"], worker_id, lease, now, worker_name)
        return lease

    def move(
        self,
        task: TaskState,
        new: TaskStatus,
        reason: str,
        *,
        outcome: str,
        task_fields: Fields | None = None,
        worker_fields: Fields | None = None,
    ) -> None:
        """Move one task, with its side effects: its attempt closed, its worker freed,
        what waits for it canceled when it can no longer complete. `task_fields` and
        `worker_fields` (a report that ends the task: its last progress) join the
        task's and its worker's one update each."""
        old = T(task["status"])
        back = new == T.QUEUED and old == T.RENDERING and outcome != new.value
        if back and self._job_paused(task):  # a retry or a lost worker, not the wrangler
            new, reason = T.PAUSED, f"{reason}; paused with its job"
        if new == old:
            return
        if not can_transition(old, new):
            raise Conflict(f"task {task['id']} cannot go from {old} to {new}")
        now = self._clock()
        fields = (task_fields or {}) | target_fields(
            new, was_rendering=old == T.RENDERING, reason=reason, now=now
        )
        if new == T.COMPLETED:
            fields["frame_current"] = task["frame_end"]
        self._store.move_task(task["id"], fields)  # leaving rendering ends its attempt
        if old == T.RENDERING:
            self._end_attempt(task, new, outcome, reason, worker_fields or {})
            if self._notes is not None and new != T.COMPLETED:
                self._notes.attempt_ended(task["id"], new.value, reason)
            elif self._notes is not None:
                self._notes.attempt_completed(task["id"])
        if new in (T.FAILED, T.CANCELED):
            self._cancel_dependents(
                [task["id"]], f"task {task['id']}, which it waits for, was {new}"
            )
        if new == T.QUEUED:
            self._signals.queued()
        self.task_changed(task, fields=fields)

    def complete_leased(
        self,
        task_id: int,
        worker_id: int,
        lease: int | None,
        task_fields: Fields,
        worker_fields: Fields,
    ) -> TaskState | None:
        """A worker's completion of the task it renders, checked by the write itself
        (no read first: the hot path of every cycle). None when the write refused it
        (the caller reads the task to say why, and moves it the general way)."""
        now = self._clock()
        fields = task_fields | target_fields(
            T.COMPLETED, was_rendering=True, reason=ATTEMPT_REASON, now=now
        )
        task = self._store.complete_leased_task(task_id, worker_id, lease, fields)
        if task is None:
            return None
        self._end_attempt(
            task, T.COMPLETED, T.COMPLETED.value, ATTEMPT_REASON, worker_fields, later=True
        )
        if self._notes is not None:
            self._notes.attempt_completed(task_id)
        self.task_changed(task, fields=fields | {"frame_current": task["frame_end"]})
        return task

    def _job_paused(self, task: TaskState) -> bool:
        """Whether the task's job is paused (a graceful pause lets this task run on)."""
        if task["job_id"] is None:
            return False
        found = self._store.job_status_and_counts(task["job_id"])
        return found is not None and found[0] == JobStatus.PAUSED.value

    def _end_attempt(
        self,
        task: TaskState,
        new: TaskStatus,
        outcome: str,
        reason: str,
        worker_fields: Fields,
        *,
        later: bool = False,
    ) -> None:
        """After the move that ended the attempt (its trigger wrote the end, the new
        status as outcome, "by the worker"): the outcome and reason where they differ,
        the worker freed. `later`: its row's mirror written behind (a completion: the
        worker's next pull, a moment later, writes its row anyway)."""
        if (outcome, reason) != (new.value, ATTEMPT_REASON):
            self._store.amend_attempt(
                task["id"], task["lease"], {"outcome": outcome, "reason": reason}
            )
        if task["worker_id"] is not None:
            freed = worker_fields | {"current_task": None, "activity": None}
            if later:
                self._store.update_worker_later(task["worker_id"], freed)
            else:
                self._store.update_worker(task["worker_id"], freed)
            self._changes.emit_fields("worker", task["worker_id"], freed)
            self._signals.lease_changed(task["worker_id"])

    def task_changed(
        self, task: TaskState, *, job: bool = True, fields: Fields | None = None
    ) -> None:
        """Emit the task (only `fields`, when those are all that changed); refresh its
        job unless only progress fields moved (a job's figures come from its tasks'
        statuses)."""
        if fields is None:
            self._changes.emit("task", task["id"])
        else:
            self._changes.emit_fields("task", task["id"], fields)
        if job and task["job_id"] is not None:
            self.refresh_job(task["job_id"])

    def refresh_job(self, job_id: int) -> None:
        """The job's status, derived again from its task counts."""
        found = self._store.job_status_and_counts(job_id)
        if found is None:
            return
        old, counts = found
        status = job_status(counts).value
        if status != old:
            # A run begins when rendering starts from anything but a pause (a requeued
            # job's clock starts again; a resumed one's goes on).
            run = status == JobStatus.RENDERING and old != JobStatus.PAUSED
            self._store.set_job_status(job_id, status, self._clock(), started=run)
            self.on_job_status(job_id, status)
        self._changes.emit("job", job_id)

    # -- a set of a job's tasks -------------------------------------------------------------

    def move_slice(
        self,
        job_id: int,
        source: TaskStatus,
        new: TaskStatus,
        reason: str,
        *,
        after: int = 0,
        limit: int = SLICE,
    ) -> int | None:
        """Move up to `limit` of the job's tasks in `source`, past task id `after`, to
        `new`; the last id it looked at, or None when none was left. Rendering ones move
        one by one (each has a worker to free); the rest in one statement, announced as
        one event. Walking by id visits a task once, even if it comes back into
        `source` meanwhile (requeued, then completed by a fast worker)."""
        if not can_transition(source, new):
            raise Conflict(f"a task cannot go from {source} to {new}")
        tasks = self._store.job_task_slice(job_id, source.value, limit, after)
        if not tasks:
            return None
        if source == T.RENDERING:
            for task in tasks:
                self.move(task, new, reason, outcome=new.value)
        else:
            idle = [t["id"] for t in tasks]
            fields = target_fields(new, was_rendering=False, reason=reason, now=self._clock())
            self._store.move_tasks(idle, fields)
            self._announce(job_id, idle, fields)
            if new in (T.FAILED, T.CANCELED):
                self._cancel_dependents(idle, f"tasks it waits for were {new}")
            if new == T.QUEUED:
                self._signals.queued()
            self.refresh_job(job_id)
        return tasks[-1]["id"]

    def move_all(self, job_id: int, source: TaskStatus, new: TaskStatus, reason: str) -> None:
        """Every slice at once, in the caller's transaction (rare paths: a job that no
        worker can take any more, the running tasks of a job being deleted)."""
        after: int | None = 0
        while after is not None:
            after = self.move_slice(job_id, source, new, reason, after=after)

    def _announce(self, job_id: int, ids: list[int], fields: Fields) -> None:
        self._changes.emit_bulk(Change("tasks", job_id, {"ids": ids, "fields": fields}))

    def _cancel_dependents(self, task_ids: Sequence[int], reason: str) -> None:
        """What waits for these tasks can no longer run: canceled (queued or paused: a
        paused one would wait for ever once resumed), and so on down."""
        waiting = self._store.waiting_dependents(task_ids)
        while waiting:
            now = self._clock()
            fields = target_fields(T.CANCELED, was_rendering=False, reason=reason, now=now)
            ids = [t["id"] for t in waiting]
            self._store.move_tasks(ids, fields)
            for job_id in {t["job_id"] for t in waiting}:
                mine = [t["id"] for t in waiting if t["job_id"] == job_id]
                if job_id is None:
                    for task_id in mine:
                        self._changes.emit("task", task_id)
                else:
                    self._announce(job_id, mine, fields)
                    self.refresh_job(job_id)
            waiting = self._store.waiting_dependents(ids)
            reason = "tasks it waits for were canceled"
