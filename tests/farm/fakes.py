"""In-memory stand-ins for the store, its transactions and the clock, so the farm's
concerns (state machine, dispatch, timeouts, blocklist) are tested with no SQLite.

`FakeStore` implements exactly the store Protocols those concerns declare
(StateStore, DispatchStore, WorkerStore, TimeoutStore, BlocklistStore):
rows are plain dicts, history a list, the blocklist a dict keyed by (job, worker). Each
method does what its SQL twin in flamenco_gui/store/ does, in the plainest Python;
the job's task counts, which triggers keep in the real store, are counted on demand.
It is a stand-in for the store, not a model of it: no rollback, no constraints beyond
refusing unknown columns (as SQLite would). mypy checks that it fits the Protocols
(`_fits` below, and every constructor in `make_farm`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from flamenco_gui.farm.blocklist import Blocklist, BlocklistStore
from flamenco_gui.farm.changes import Changes, Transactions
from flamenco_gui.farm.dispatch import Dispatch, DispatchStore
from flamenco_gui.farm.events import Change, EventBus, Kind
from flamenco_gui.farm.retries import Retries
from flamenco_gui.farm.settings import FarmConfig
from flamenco_gui.farm.task_state_machine import StateStore, TaskStateMachine
from flamenco_gui.farm.timeouts import TimeoutChecker, TimeoutStore
from flamenco_gui.farm.wakeups import Wakeups
from flamenco_gui.farm.workers import Workers, WorkerStore
from flamenco_gui.rows import (
    BlocklistRow,
    Fields,
    HistoryRow,
    PullState,
    TaskRow,
    TaskState,
    WorkerRow,
    WorkerState,
)

TASK_COLUMNS = tuple(TaskRow.__annotations__)
WORKER_COLUMNS = tuple(WorkerRow.__annotations__)
HISTORY_COLUMNS = tuple(HistoryRow.__annotations__)
TASK_STATE = tuple(TaskState.__annotations__)


def _set(row: Fields, fields: Fields, table: str) -> None:
    unknown = set(fields) - set(row)
    if unknown:
        raise KeyError(f"{table} has no column {sorted(unknown)}")
    row.update(fields)


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTransactions:
    """The store's unit of work without a database: nesting depth and commits only."""

    def __init__(self) -> None:
        self.depth = 0
        self.commits = 0
        self._group_open = False

    @property
    def in_transaction(self) -> bool:
        return self.depth > 0

    @property
    def group_open(self) -> bool:
        return self._group_open

    @contextmanager
    def change(self, *, group: bool = False) -> Iterator[None]:
        if not self.depth and not group and self._group_open:
            raise RuntimeError("a group transaction is open: commit_group() first")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth:  # the outermost block ended without an error
            if group:
                self._group_open = True
            else:
                self.commits += 1

    def commit_group(self) -> None:
        if self._group_open:
            self._group_open = False
            self.commits += 1


class Recorder:
    """An EventBus subscriber that keeps what was published."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def __call__(self, change: Change) -> None:
        self.changes.append(change)

    def of(self, kind: Kind) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def clear(self) -> None:
        self.changes.clear()


class FakeStore:
    """The store, in dicts (see the module's docstring)."""

    def __init__(self) -> None:
        self.jobs: dict[int, Fields] = {}
        self.tasks: dict[int, Fields] = {}
        self.workers: dict[int, Fields] = {}
        self.deps: set[tuple[int, int]] = set()  # (task, the task it waits for)
        self.history: list[Fields] = []
        self.blocklisted: dict[tuple[int, int], Fields] = {}  # (job, worker) -> entry
        self.forgiven: dict[tuple[int, int], int] = {}  # (job, worker) -> last history id

    # -- arranging a test (not part of any Protocol) ------------------------------------

    def add_job(self, *, priority: int = 50, status: str = "queued") -> int:
        job_id = max(self.jobs, default=0) + 1
        self.jobs[job_id] = {
            "id": job_id,
            "status": status,
            "priority": priority,
            "updated": None,
            "deleted": None,
        }
        return job_id

    def add_task(
        self,
        job_id: int | None,
        *,
        status: str = "queued",
        waits_for: Sequence[int] = (),
        **fields: Any,
    ) -> int:
        task_id = max(self.tasks, default=0) + 1
        row: Fields = dict.fromkeys(TASK_COLUMNS)
        row |= {
            "id": task_id,
            "job_id": job_id,
            "status": status,
            "lease": 0,
            "attempts": 0,
            "frame_start": task_id,
            "frame_end": task_id,
            "priority": 0,
            "type": "command",
            "progress": 0.0,
            "job_priority": self.jobs[job_id]["priority"] if job_id is not None else 0,
        }
        _set(row, fields, "tasks")
        self.tasks[task_id] = row
        self.deps |= {(task_id, other) for other in waits_for}
        return task_id

    def add_worker(self, hostname: str = "w", **fields: Any) -> int:
        return self.insert_worker(
            {"hostname": hostname, "status": "enabled", "connection": "online", **fields}
        )

    def history_of(self, task_id: int) -> list[Fields]:
        return [h for h in self.history if h["task_id"] == task_id]

    def load(self, kind: Kind, row_id: int) -> dict[str, Any] | None:
        """The Changes loader: an object's row as it is now."""
        table = {"task": self.tasks, "worker": self.workers, "job": self.jobs}[kind]
        row = table.get(row_id)
        return dict(row) if row is not None else None

    def state(self, task_id: int) -> TaskState:
        return cast(TaskState, {k: self.tasks[task_id][k] for k in TASK_STATE})

    def _eligible(self) -> set[int]:
        return {
            w["id"]
            for w in self.workers.values()
            if w["connection"] == "online" and w["status"] == "enabled"
        }

    # -- StateStore ---------------------------------------------------------------------

    def move_task(self, task_id: int, fields: Fields) -> None:
        """As the table's triggers (schema v15): an attempt opens when the task enters
        rendering and ends, "by the worker" with its new status, when it leaves it."""
        task = self.tasks[task_id]
        old_status, old_lease = task["status"], task["lease"]
        _set(task, fields, "tasks")
        if task["status"] == "rendering" and old_status != "rendering":
            self._add_history(
                {
                    "task_id": task_id,
                    "worker_id": task["worker_id"],
                    "lease": task["lease"],
                    "started": task["started"],
                }
            )
        elif old_status == "rendering" and task["status"] != "rendering":
            for h in self.history:
                if h["task_id"] == task_id and h["lease"] == old_lease and h["ended"] is None:
                    ended = {"ended": task["updated"], "outcome": task["status"]}
                    _set(h, ended | {"reason": "by the worker"}, "task_history")

    def complete_leased_task(
        self, task_id: int, worker_id: int, lease: int | None, fields: Fields
    ) -> TaskState | None:
        task = self.tasks.get(task_id)
        if (
            task is None
            or task["worker_id"] != worker_id
            or task["status"] != "rendering"
            or (lease is not None and task["lease"] != lease)
        ):
            return None
        self.move_task(task_id, fields | {"frame_current": task["frame_end"]})
        return self.state(task_id)

    def move_tasks(self, task_ids: Sequence[int], fields: Fields) -> None:
        for task_id in task_ids:
            self.move_task(task_id, fields)

    def _add_history(self, row: Fields) -> int:
        entry: Fields = dict.fromkeys(HISTORY_COLUMNS)
        entry["id"] = len(self.history) + 1
        _set(entry, row, "task_history")
        self.history.append(entry)
        return int(entry["id"])

    def amend_attempt(self, task_id: int, lease: int, fields: Fields) -> None:
        for h in self.history:
            if h["task_id"] == task_id and h["lease"] == lease:
                _set(h, fields, "task_history")

    def update_worker_later(self, worker_id: int, fields: Fields) -> None:
        self.update_worker(worker_id, fields)  # written at once: "later" may be now

    def write_behind(self) -> int:
        return 0

    def update_worker(self, worker_id: int, fields: Fields) -> bool:
        if worker_id not in self.workers:
            return False
        _set(self.workers[worker_id], fields, "workers")
        return True

    def waiting_dependents(self, task_ids: Sequence[int]) -> list[TaskState]:
        waiting = {t for t, other in self.deps if other in task_ids}
        return [
            self.state(t)
            for t in sorted(waiting)
            if self.tasks[t]["status"] in ("queued", "paused")
        ]

    def job_status_and_counts(self, job_id: int) -> tuple[str, dict[str, int]] | None:
        if job_id not in self.jobs:
            return None
        counts = Counter(t["status"] for t in self.tasks.values() if t["job_id"] == job_id)
        return self.jobs[job_id]["status"], dict(counts)

    def set_job_status(self, job_id: int, status: str, when: float, started: bool = False) -> None:
        self.jobs[job_id] |= {"status": status, "updated": when}
        if started:
            self.jobs[job_id]["started"] = when

    def job_task_slice(
        self, job_id: int, status: str, limit: int, after: int = 0
    ) -> list[TaskState]:
        ids = sorted(
            t["id"]
            for t in self.tasks.values()
            if t["job_id"] == job_id and t["status"] == status and t["id"] > after
        )
        return [self.state(t) for t in ids[:limit]]

    # -- DispatchStore ------------------------------------------------------------------

    def worker_state(self, worker_id: int) -> WorkerState | None:
        w = self.workers.get(worker_id)
        if w is None:
            return None
        return WorkerState(id=w["id"], status=w["status"], connection=w["connection"])

    def pull_state(self, worker_id: int) -> PullState | None:
        state = self.worker_state(worker_id)
        if state is None:
            return None
        return PullState(
            **state,
            holding=bool(self.tasks_leased_to(worker_id)),
            hostname=self.workers[worker_id]["hostname"],
        )

    def next_queued_task(self, worker_id: int) -> TaskState | None:
        accepts = self.workers[worker_id].get("accepts") if worker_id in self.workers else None

        def may_run(t: Fields) -> bool:
            if accepts and t.get("needs") and f",{t['needs']}," not in accepts:
                return False
            job = t["job_id"]
            if job is not None and (
                (job, worker_id) in self.blocklisted or self.jobs[job]["deleted"] is not None
            ):
                return False
            if any(self.tasks[o]["status"] != "completed" for i, o in self.deps if i == t["id"]):
                return False
            failed_by = {
                h["worker_id"]
                for h in self.history_of(t["id"])
                if h["outcome"] == "failed" and h["worker_id"] is not None
            }
            return worker_id not in failed_by or len(failed_by) >= len(self._eligible())

        queued = [t for t in self.tasks.values() if t["status"] == "queued" and may_run(t)]
        if not queued:
            return None
        head = min(queued, key=lambda t: (-t["job_priority"], -t["priority"], t["id"]))
        return self.state(head["id"])

    def tasks_leased_to(self, worker_id: int) -> list[TaskState]:
        return [
            self.state(t["id"])
            for t in self.tasks.values()
            if t["worker_id"] == worker_id and t["status"] == "rendering"
        ]

    # -- WorkerStore (what Workers, which dispatch and the timeouts use, asks) ------------

    def insert_worker(self, row: Fields) -> int:
        worker_id = max(self.workers, default=0) + 1
        worker: Fields = dict.fromkeys(WORKER_COLUMNS)
        worker["id"] = worker_id
        _set(worker, row, "workers")
        self.workers[worker_id] = worker
        return worker_id

    def get_worker(self, worker_id: int) -> WorkerRow | None:
        w = self.workers.get(worker_id)
        return cast(WorkerRow, dict(w)) if w is not None else None

    def legacy_worker(self, hostname: str) -> WorkerRow | None:
        found = [
            w for w in self.workers.values() if w["hostname"] == hostname and not w.get("uuid")
        ]
        return cast(WorkerRow, dict(found[0])) if found else None

    def worker_by_uuid(self, uuid: str) -> WorkerRow | None:
        found = [w for w in self.workers.values() if w.get("uuid") == uuid]
        return cast(WorkerRow, dict(found[0])) if found else None

    def delete_worker(self, worker_id: int) -> None:
        for t in self.tasks.values():
            if t["worker_id"] == worker_id:
                t["worker_id"] = None
        for h in self.history:
            if h["worker_id"] == worker_id:
                h["worker_id"] = None
        self.blocklisted = {k: v for k, v in self.blocklisted.items() if k[1] != worker_id}
        del self.workers[worker_id]

    def list_workers(self) -> list[WorkerRow]:
        return [cast(WorkerRow, dict(self.workers[i])) for i in sorted(self.workers)]

    def worker_secret_hashes(self) -> dict[str, int]:
        return {w["secret_hash"]: w["id"] for w in self.workers.values() if w["secret_hash"]}

    def free_stale_current_tasks(self) -> None:
        for w in self.workers.values():
            task = self.tasks.get(w["current_task"]) if w.get("current_task") else None
            if w.get("current_task") and (
                task is None or task["worker_id"] != w["id"] or task["status"] != "rendering"
            ):
                w["current_task"] = w["activity"] = None

    def online_workers(self) -> list[int]:
        return sorted(w["id"] for w in self.workers.values() if w["connection"] == "online")

    # -- TimeoutStore -------------------------------------------------------------------

    def stale_workers(self, seen_before: float) -> list[WorkerRow]:
        return [
            cast(WorkerRow, dict(w))
            for w in self.workers.values()
            if w["connection"] != "offline"
            and w["last_seen"] is not None
            and w["last_seen"] < seen_before
        ]

    def hung_tasks(self, progress_before: float) -> list[TaskState]:
        return [
            self.state(t["id"])
            for t in self.tasks.values()
            if t["status"] == "rendering"
            and t["last_progress"] is not None
            and t["last_progress"] < progress_before
        ]

    # -- BlocklistStore -----------------------------------------------------------------

    def failures_in_job(self, job_id: int, worker_id: int) -> int:
        after = self.forgiven.get((job_id, worker_id), 0)
        return sum(
            1
            for h in self.history
            if h["worker_id"] == worker_id
            and h["outcome"] == "failed"
            and h["id"] > after
            and self.tasks[h["task_id"]]["job_id"] == job_id
        )

    def blocklist_add(self, job_id: int, worker_id: int, created: float, reason: str) -> None:
        self.blocklisted.setdefault((job_id, worker_id), {"created": created, "reason": reason})

    def blocklist(self, job_id: int) -> list[BlocklistRow]:
        rows = [
            BlocklistRow(
                job_id=job,
                worker_id=worker,
                created=entry["created"],
                reason=entry["reason"],
                hostname=self.workers[worker]["hostname"] if worker in self.workers else None,
            )
            for (job, worker), entry in self.blocklisted.items()
            if job == job_id
        ]
        return sorted(rows, key=lambda r: r["created"])

    def blocklist_of_worker(self, worker_id: int) -> list[BlocklistRow]:
        jobs = {job for job, worker in self.blocklisted if worker == worker_id}
        return [
            r for job in sorted(jobs) for r in self.blocklist(job) if r["worker_id"] == worker_id
        ]

    def blocklist_clear(self, job_id: int, worker_id: int | None) -> None:
        for job, worker in self.blocklisted:
            if job == job_id and worker_id in (None, worker):
                self.forgiven[(job, worker)] = len(self.history)
        self.blocklisted = {
            (job, worker): entry
            for (job, worker), entry in self.blocklisted.items()
            if not (job == job_id and worker_id in (None, worker))
        }

    def count_eligible_workers(self, job_id: int) -> int:
        return len({w for w in self._eligible() if (job_id, w) not in self.blocklisted})

    # -- set-up for the tests (the columns a report would have changed) ------------------

    def update_task(self, task_id: int, fields: Fields) -> None:
        if "status" in fields:
            raise ValueError("a task's status changes only through move_task(s)")
        _set(self.tasks[task_id], fields, "tasks")


def _fits(store: FakeStore, tx: FakeTransactions) -> None:
    """Never called: mypy checks here that the fakes are what the Protocols ask for."""
    _state: StateStore = store
    _dispatch: DispatchStore = store
    _workers: WorkerStore = store
    _timeouts: TimeoutStore = store
    _blocklist: BlocklistStore = store
    _tx: Transactions = tx


@dataclass
class Farm:
    """The concerns wired as farm/service.py wires them, over the fakes."""

    store: FakeStore
    tx: FakeTransactions
    clock: FakeClock
    events: Recorder
    config: FarmConfig
    wakeups: Wakeups
    changes: Changes
    states: TaskStateMachine
    blocklist: Blocklist
    retries: Retries
    workers: Workers
    dispatch: Dispatch
    timeouts: TimeoutChecker


def make_farm(**config: Any) -> Farm:
    store = FakeStore()
    tx = FakeTransactions()
    clock = FakeClock()
    cfg = FarmConfig(**config)
    bus = EventBus()
    events = Recorder()
    bus.subscribe(events)
    wakeups = Wakeups()
    changes = Changes(tx, bus, store.load)
    states = TaskStateMachine(store, changes, wakeups, clock)
    blocklist = Blocklist(store, states, lambda: cfg.blocklist_threshold, clock)
    retries = Retries(states, blocklist, lambda: cfg.max_attempts)
    workers = Workers(store, changes, states, wakeups, clock)
    dispatch = Dispatch(store, changes, states, workers, wakeups, cfg, clock)
    timeouts = TimeoutChecker(store, changes, workers, retries, wakeups, cfg, clock)
    return Farm(
        store,
        tx,
        clock,
        events,
        cfg,
        wakeups,
        changes,
        states,
        blocklist,
        retries,
        workers,
        dispatch,
        timeouts,
    )
