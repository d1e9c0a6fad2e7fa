"""Remote control of workers: the wrangler asks a worker to stop taking work, restart
its agent, or shut down or reboot its machine, "now" or "after the current task".

A request is kept on the worker's row (`control`, so it survives a manager restart
and reaches the window by the usual worker event) and in memory, so the pull asks
nothing more of the store: a worker with a pending request gets no new task. "now"
requeues its running task at once (its lease watch wakes and the worker kills it);
"after the current task" lets it finish. The request travels to the worker in the
answer of its next pull or lease watch (woken at once); the worker acknowledges it
(`control_ack` in its next report) and says when it is done:

- `stop`: done once it runs nothing; it then stays online, idle, until `resume`;
- `restart`: done when the restarted agent reports (same worker id, from its work dir);
- `shutdown` / `reboot`: done just before the worker runs the power command; only for
  a worker whose owner allowed it (`--allow-power`), else 409.

`resume` withdraws a pending request or ends a stop: the worker takes work again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Conflict, Invalid, NotFound
from flamenco_gui.farm.wakeups import Wakeups
from flamenco_gui.farm.workers import Workers
from flamenco_gui.rows import WorkerRow

ACTIONS = ("stop", "restart", "shutdown", "reboot")
POWER = ("shutdown", "reboot")
WHEN = ("now", "after_task")
# requested: not yet seen by the worker; acknowledged: it will act; done: it did (a
# stop stays "done" until resumed; the others are then cleared).
STATES = ("requested", "acknowledged", "restarting", "done")


class ControlStore(Protocol):
    def get_worker(self, worker_id: int) -> WorkerRow | None: ...
    def update_worker(self, worker_id: int, fields: dict[str, Any]) -> bool: ...
    def worker_controls(self) -> dict[int, dict[str, Any]]: ...


class WorkerControl:
    def __init__(
        self,
        store: ControlStore,
        changes: Changes,
        workers: Workers,
        wakeups: Wakeups,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._changes = changes
        self._workers = workers
        self._wakeups = wakeups
        self._clock = clock
        self._pending: dict[int, dict[str, Any]] = store.worker_controls()

    def pending(self, worker_id: int) -> dict[str, Any] | None:
        """The worker's request, from memory (the pull asks this on every claim)."""
        return self._pending.get(worker_id)

    def news(self, worker_id: int) -> bool:
        """A request the worker has not acknowledged: its held poll answers now."""
        control = self._pending.get(worker_id)
        return control is not None and control["state"] == "requested"

    def request(self, worker_id: int, action: str, when: str) -> WorkerRow:
        if action == "resume":
            return self.resume(worker_id)
        if action not in ACTIONS:
            raise Invalid(f"action: {action!r}; one of {', '.join([*ACTIONS, 'resume'])}")
        if when not in WHEN:
            raise Invalid(f"when: {when!r}; one of {', '.join(WHEN)}")
        worker = self._workers.get(worker_id)
        if action in POWER and not worker.get("allow_power"):
            raise Conflict(
                f"worker {worker_id} may not be shut down or rebooted from here: its owner"
                " can allow it by starting the worker with --allow-power"
            )
        now = self._clock()
        control = {
            "id": int(now * 1000),
            "action": action,
            "when": when,
            "state": "requested",
            "requested": now,
        }
        with self._changes.change():
            self._store.update_worker(worker_id, {"control": control})
            if when == "now":
                self._workers.requeue_leased(worker_id, f"{action} requested by the wrangler")
            self._changes.emit("worker", worker_id)
        self._pending[worker_id] = control
        self._wake(worker_id)
        return self._workers.get(worker_id)

    def resume(self, worker_id: int) -> WorkerRow:
        self._workers.get(worker_id)
        with self._changes.change():
            self._store.update_worker(worker_id, {"control": None})
            self._changes.emit("worker", worker_id)
        self._pending.pop(worker_id, None)
        self._wakeups.queued()
        return self._workers.get(worker_id)

    def acknowledge(self, worker_id: int, control_id: int, state: str) -> None:
        """The worker's word on its request; an old or unknown id is ignored (the
        request it answers was withdrawn or replaced)."""
        control = self._pending.get(worker_id)
        if control is None or control["id"] != control_id or state not in STATES[1:]:
            return
        finished = state == "done" and control["action"] != "stop"
        updated = None if finished else {**control, "state": state, "updated": self._clock()}
        with self._changes.change():
            if not self._store.update_worker(worker_id, {"control": updated}):
                raise NotFound(f"worker {worker_id} does not exist")
            self._changes.emit("worker", worker_id)
        if updated is None:
            self._pending.pop(worker_id, None)
            self._wakeups.queued()
        else:
            self._pending[worker_id] = updated

    def forget(self, worker_id: int) -> None:
        self._pending.pop(worker_id, None)

    def _wake(self, worker_id: int) -> None:
        self._wakeups.lease_changed(worker_id)
        self._wakeups.queued()


def describe(control: dict[str, Any] | None) -> str:
    """The workers table's words for a request: "restart after task: acknowledged"."""
    if not control:
        return ""
    when = "now" if control.get("when") == "now" else "after task"
    if control.get("action") == "stop" and control.get("state") == "done":
        return "stopped by the wrangler"
    return f"{control.get('action')} {when}: {control.get('state')}"
