"""Jobs that wait for jobs: a job submitted with `depends_on` starts once every job it
names has completed.

The child's `waiting` flag (on its job row, read by the pull's SQL) is set at
submission while a parent is unfinished and cleared in the same transaction as the
last parent's move to completed; that transaction's `queued` signal wakes the held
polls, so the child's first task is handed out at once, without a polling delay. A
parent that fails or is canceled keeps its children waiting, with a reason that says
so, until the wrangler requeues the parent (which completing again releases them) or
releases the child by hand (the `release` job action).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Invalid
from flamenco_gui.farm.states import JobStatus
from flamenco_gui.farm.wakeups import Wakeups

MAX_DEPENDS_ON = 100
_STUCK = (JobStatus.FAILED.value, JobStatus.CANCELED.value)


class JobDepsStore(Protocol):
    def insert_job_deps(self, job_id: int, parents: Sequence[int]) -> None: ...
    def job_parents(self, job_id: int) -> list[tuple[int, str]]: ...
    def live_job_ids(self, job_ids: Sequence[int]) -> set[int]: ...
    def set_job_waiting(self, job_id: int, waiting: bool) -> None: ...
    def release_children(self, parent_id: int) -> list[int]: ...
    def job_children(self, job_id: int) -> list[int]: ...


class JobDeps:
    def __init__(self, store: JobDepsStore, changes: Changes, wakeups: Wakeups) -> None:
        self._store = store
        self._changes = changes
        self._wakeups = wakeups

    def check(self, parents: Sequence[int]) -> list[int]:
        """The parents of a submission, each once; Invalid names one that does not exist."""
        wanted = sorted(set(parents))
        if len(wanted) > MAX_DEPENDS_ON:
            raise Invalid(f"depends_on: {len(wanted)} jobs; at most {MAX_DEPENDS_ON}")
        missing = sorted(set(wanted) - self._store.live_job_ids(wanted)) if wanted else []
        if missing:
            raise Invalid(f"depends_on: job {missing[0]} does not exist")
        return wanted

    def attach(self, job_id: int, parents: Sequence[int]) -> None:
        """Inside the new job's first transaction (before any of its tasks exist)."""
        if not parents:
            return
        self._store.insert_job_deps(job_id, parents)
        found = self._store.job_parents(job_id)
        if any(status != JobStatus.COMPLETED.value for _, status in found):
            self._store.set_job_waiting(job_id, True)

    def parent_moved(self, job_id: int, status: str) -> None:
        """Inside the change that moved job `job_id` to `status` (the state machine
        calls it): children it was the last to hold are freed; all are re-shown (their
        reason changes when a parent fails)."""
        if status == JobStatus.COMPLETED.value and self._store.release_children(job_id):
            self._wakeups.queued()
        for child in self._store.job_children(job_id):
            self._changes.emit("job", child)

    def parent_gone(self, job_id: int) -> None:
        """A parent being deleted holds nobody back."""
        if self._store.release_children(job_id):
            self._wakeups.queued()
        for child in self._store.job_children(job_id):
            self._changes.emit("job", child)

    def release(self, job_id: int) -> None:
        """The wrangler's "release": start the job without waiting for its parents."""
        with self._changes.change():
            self._store.set_job_waiting(job_id, False)
            self._changes.emit("job", job_id)
        self._wakeups.queued()

    def parents(self, job_id: int) -> list[int]:
        return [i for i, _ in self._store.job_parents(job_id)]

    def reason(self, job_id: int) -> str | None:
        """Why a waiting job has not started: the parents it waits for, and what to do
        when one of them can no longer complete."""
        pending = [(i, s) for i, s in self._store.job_parents(job_id) if s != "completed"]
        if not pending:
            return None
        stuck = [(i, s) for i, s in pending if s in _STUCK]
        if stuck:
            i, s = stuck[0]
            verb = "failed" if s == JobStatus.FAILED.value else "was canceled"
            return f"waiting for job {i}, which {verb}: requeue it, or release this job"
        ids = ", ".join(str(i) for i, _ in pending)
        return f"waiting for job{'s' if len(pending) > 1 else ''} {ids}"
