"""The pull: a worker's report hands it its next task, or holds the answer until there
is one (or its lease changes), so idle workers start new work at once without polling.

A pull that finds work claims it in the report's own transaction, with the report's
fields and the claim's written in one UPDATE of the worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import NotFound, TooMany
from flamenco_gui.farm.settings import FarmConfig
from flamenco_gui.farm.states import Connection, TaskStatus, WorkerReport, WorkerStatus
from flamenco_gui.farm.task_state_machine import TaskStateMachine
from flamenco_gui.farm.wakeups import Wakeups
from flamenco_gui.farm.workers import Workers, report_fields
from flamenco_gui.limits import LIMITS
from flamenco_gui.rows import Fields, PullState, TaskState, WorkerState

# A poll held longer than this refreshes the worker's last_seen when it answers.
HEARTBEAT_GRACE = 1.0
# A held poll looks at its client this often: one that went away (killed, unplugged)
# ends the poll within this time, so the worker's silence starts counting at once.
ALIVE_CHECK = 0.5
Assignment = tuple[int | None, int | None]  # (task id, lease)


class DispatchStore(Protocol):
    def worker_state(self, worker_id: int) -> WorkerState | None: ...
    def pull_state(self, worker_id: int) -> PullState | None: ...
    def update_worker(self, worker_id: int, fields: Fields) -> bool: ...
    def next_queued_task(self, worker_id: int) -> TaskState | None: ...
    def tasks_leased_to(self, worker_id: int) -> list[TaskState]: ...


class Dispatch:
    def __init__(
        self,
        store: DispatchStore,
        changes: Changes,
        states: TaskStateMachine,
        workers: Workers,
        wakeups: Wakeups,
        config: FarmConfig,
        clock: Callable[[], float] = time.time,
        update_pending: Callable[[int], bool] = lambda worker_id: False,
        control: Callable[[int], str | None] = lambda worker_id: None,
        on_schedule: Callable[[int], bool] = lambda worker_id: True,
    ) -> None:
        """`update_pending(worker_id)`: "update all" asked this worker to check for its
        update (farm/worker_updates.py); its pull then answers at once, without work.
        `control(worker_id)`: the wrangler's pending remote request, from memory
        (farm/worker_control.py): None, or its state; "requested" (news for the worker)
        answers a held poll or watch at once; any state keeps new work from it.
        `on_schedule(worker_id)`: inside its sleep schedule (farm/schedules.py, memory)."""
        self._store = store
        self._on_schedule = on_schedule
        self._update_pending = update_pending
        self._control = control
        self._changes = changes
        self._states = states
        self._workers = workers
        self._wakeups = wakeups
        self._config = config
        self._clock = clock
        self._open: dict[int, int] = {}  # worker id -> `available` pulls being answered now

    def begin_pull(self, worker_id: int) -> None:
        """An `available` pull of this worker is being answered, until `end_pull` (the
        API calls it once the answer is written, so the window covers the commit and
        the write, not only `report`)."""
        self._open[worker_id] = self._open.get(worker_id, 0) + 1

    def end_pull(self, worker_id: int) -> None:
        self._open[worker_id] -= 1
        if not self._open[worker_id]:
            del self._open[worker_id]

    def _held(self, worker_id: int, always: bool = False) -> Assignment | None:
        """The task the worker holds, if another of its pulls is being answered now (or
        `always`): a concurrent pull answers that same task rather than requeue it or
        claim a second one. A pull after the answers were written is a new question:
        "I run nothing", and what it held is requeued."""
        if not always and self._open.get(worker_id, 0) < 2:
            return None
        leased = self._store.tasks_leased_to(worker_id)
        return (leased[0]["id"], leased[0]["lease"]) if leased else None

    def release(self, worker_id: int, task_id: int, lease: int, reason: str) -> None:
        """A claimed task whose answer never reached the worker goes back to the queue
        now (not at the worker timeout), unless it has moved on since."""
        with self._changes.change():
            for task in self._store.tasks_leased_to(worker_id):
                if task["id"] == task_id and task["lease"] == lease:
                    self._states.move(task, TaskStatus.QUEUED, reason, outcome="lost")
        self._wakeups.queued()

    def _touch(self, worker_id: int, fields: Fields) -> None:
        if not self._store.update_worker(worker_id, fields):
            raise NotFound(f"worker {worker_id} does not exist")

    async def report(
        self,
        worker_id: int,
        status: WorkerReport,
        *,
        task_id: int | None = None,
        wait: float = 0.0,
        alive: Callable[[], bool] | None = None,
        **report: Any,
    ) -> Assignment:
        """The 2015 pull, plus a watch: answers (task the worker should run, its lease).

        `available`: hand out the next task, holding the answer up to `wait` seconds
        until one is queued. `rendering`: confirm the worker's lease on `task_id`,
        holding the answer until the lease changes. `offline`: the worker is leaving.
        `alive` says whether the asker is still there to be answered: a held poll whose
        client has gone claims nothing.
        """
        wait = max(0.0, min(wait, self._config.max_wait, self._config.worker_timeout / 2))
        claimed: Assignment | None = None
        refuse = report.pop("refuse", None)
        if status == WorkerReport.AVAILABLE:
            # Its own reason to take no work ("user active", --when-idle), or None.
            report["activity"] = refuse
        if status == WorkerReport.AVAILABLE and refuse:
            return self._refused(worker_id, str(refuse), report)
        fields = report_fields(report, self._clock())
        with self._changes.change():
            if status == WorkerReport.AVAILABLE:
                worker = self._store.pull_state(worker_id)
                if worker is None:
                    raise NotFound(f"worker {worker_id} does not exist")
                # Another pull of this worker is being answered (or just was): same task.
                claimed = self._held(worker_id)
                if claimed is None:
                    if worker["holding"]:
                        self._workers.requeue_leased(worker_id, "worker reported it runs nothing")
                    claimed = self.claim(worker, fields, worker["hostname"])
                if claimed is None:
                    self._touch(worker_id, fields)
            else:
                self._touch(worker_id, fields)
            self._changes.emit_fields("worker", worker_id, fields)
            if status == WorkerReport.OFFLINE:
                self._workers.go_offline(worker_id, "worker signed off")
        if claimed is not None:
            return claimed
        if status == WorkerReport.OFFLINE:
            self._wakeups.queued()  # its held poll, if any, ends now
            return None, None
        if status == WorkerReport.AVAILABLE and self._answer_now(worker_id):
            return None, None  # between tasks, with nothing to run: an update, a request
        if wait and self._wakeups.held_polls() >= LIMITS.max_held_polls:
            raise TooMany(
                f"wait: {self._wakeups.held_polls()} polls held, max_held_polls"
                f" ({LIMITS.max_held_polls}); ask again without wait or later"
            )
        began = time.monotonic()
        deadline = began + wait
        self._wakeups.poll_opened(worker_id)
        try:
            if status == WorkerReport.RENDERING:
                answer = await self._watch_lease(worker_id, task_id, deadline, alive)
            else:
                answer = await self._pull(worker_id, deadline, alive)
        finally:
            # The client was there until now (within ALIVE_CHECK): the timeouts count
            # its silence from here, not from the report that opened the poll.
            self._wakeups.poll_closed(worker_id, self._clock())
        # A held poll that ran its course counts as a heartbeat; one cut short by a
        # disconnect or shutdown does not (the store may already be closing). One that
        # answered at once needs none: the report above was one.
        if wait and time.monotonic() - began > HEARTBEAT_GRACE:
            with self._changes.change():
                self._store.update_worker(worker_id, {"last_seen": self._clock()})
        return answer

    def _refused(self, worker_id: int, reason: str, report: dict[str, Any]) -> Assignment:
        """A worker that takes no work now, by its own choice: a heartbeat that gives
        back what it held (it stopped that task) and claims nothing, answered at once."""
        with self._changes.change():
            self._workers.requeue_leased(worker_id, f"the worker stopped it: {reason}")
            self._touch(worker_id, report_fields(report, self._clock()))
            self._changes.emit("worker", worker_id)
        return None, None

    async def _watch_lease(
        self,
        worker_id: int,
        task_id: int | None,
        deadline: float,
        alive: Callable[[], bool] | None,
    ) -> Assignment:
        while True:
            leased = self._store.tasks_leased_to(worker_id)
            held = next((t for t in leased if t["id"] == task_id), None)
            if held is None:
                return None, None
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._control(worker_id) == "requested":
                return held["id"], held["lease"]
            if alive is not None and not alive():
                return held["id"], held["lease"]  # nobody reads it; the poll ends
            ev = self._wakeups.lease_event(worker_id)
            with suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), min(remaining, ALIVE_CHECK))

    async def _pull(
        self, worker_id: int, deadline: float, alive: Callable[[], bool] | None
    ) -> Assignment:
        """Hold the pull until work is queued. The report has just tried to claim (with
        no await since), so it waits first rather than ask the same question again.
        It claims only for a client still there, and never a second task for a worker
        that got one meanwhile (through another of its pulls)."""
        while True:
            ev = self._wakeups.queued_event()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, None
            try:
                await asyncio.wait_for(ev.wait(), min(remaining, ALIVE_CHECK))
            except TimeoutError:
                if alive is not None and not alive():
                    return None, None
                if not ev.is_set():
                    continue
                # Work was queued just as the client check came due: a `continue`
                # would wait on the next signal, and that one may never come.
            worker = self._store.worker_state(worker_id)
            if worker is None or worker["connection"] == Connection.OFFLINE:
                # Forgotten, or it said goodbye while this poll was held: a task handed
                # out now would sit on a worker that will never run it.
                return None, None
            if alive is not None and not alive():
                return None, None  # the client gave up: nobody to hand a task to
            with self._changes.change():
                claimed = self._held(worker_id, always=True) or self.claim(worker)
            if claimed is not None:
                return claimed
            if self._answer_now(worker_id):
                return None, None

    def _answer_now(self, worker_id: int) -> bool:
        return self._update_pending(worker_id) or self._control(worker_id) == "requested"

    def claim(
        self, worker: WorkerState, report: Fields | None = None, name: str | None = None
    ) -> Assignment | None:
        """Inside a change: the worker's next task, leased to it; `report` fields join
        its row's update; `name` (its hostname, when read already) heads the log's
        attempt."""
        if worker["status"] != WorkerStatus.ENABLED or self._control(worker["id"]) is not None:
            return None
        if not self._on_schedule(worker["id"]):
            return None
        task = self._store.next_queued_task(worker["id"])
        if task is None:
            return None
        lease = self._states.start(task, worker["id"], report or {}, worker_name=name)
        return task["id"], lease
