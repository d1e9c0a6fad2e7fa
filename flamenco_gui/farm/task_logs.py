"""Task logs: appended by the worker holding the lease, read by anyone allowed."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import TooLarge
from flamenco_gui.farm.leases import LeaseStore, leased_task, task_state
from flamenco_gui.limits import LIMITS
from flamenco_gui.rows import Fields

REMEMBERED_BATCHES = 10_000  # tasks whose last log batch is remembered (in memory)


class LogFiles(Protocol):
    def append(self, task_id: int, lines: Sequence[str]) -> None: ...
    def size(self, task_id: int) -> int: ...
    def read_range(self, task_id: int, offset: int, limit: int) -> bytes: ...
    def tail(self, task_id: int, lines: int) -> bytes: ...
    def delete(self, task_id: int) -> None: ...


class TaskLogStore(LeaseStore, Protocol):
    def update_worker(self, worker_id: int, fields: Fields) -> bool: ...
    def update_task(self, task_id: int, fields: Fields) -> None: ...


class TaskLogs:
    def __init__(
        self,
        store: TaskLogStore,
        files: LogFiles,
        changes: Changes,
        clock: Callable[[], float] = time.time,
        headed: Callable[[int, list[str]], list[str]] = lambda task_id, lines: lines,
    ) -> None:
        """`headed`: a batch behind its attempt's header when that is not written yet
        (farm/log_notes.py)."""
        self._headed = headed
        self._store = store
        self.files = files
        self._changes = changes
        self._clock = clock
        # task id -> (lease, seq, lines of that batch landed): the last batch per task,
        # so that its retry (the worker never saw the answer) lands once.
        self._landed: OrderedDict[int, tuple[int, int, int]] = OrderedDict()

    def _new_lines(self, task_id: int, lease: int, seq: int | None, lines: list[str]) -> list[str]:
        """The lines of a batch not yet in the log. A retry of the last batch (same task,
        lease and seq) skips what landed; the worker's outbox may have added lines to
        that batch meanwhile, and those land."""
        if seq is None:
            return lines
        last = self._landed.get(task_id)
        if last is not None and last[:2] == (lease, seq):
            return lines[last[2] :]
        return lines

    def _remember(self, task_id: int, lease: int, seq: int | None, count: int) -> None:
        if seq is None:
            return
        self._landed[task_id] = (lease, seq, count)
        self._landed.move_to_end(task_id)
        while len(self._landed) > REMEMBERED_BATCHES:
            self._landed.popitem(last=False)

    def append(
        self,
        task_id: int,
        lines: list[str],
        worker_id: int | None,
        lease: int | None,
        seq: int | None = None,
    ) -> None:
        """Append a batch, whole or not at all. `seq` numbers the worker's batches: the
        retry of one that landed (its answer was lost) is not appended again."""
        if len(lines) > LIMITS.max_log_batch_lines:
            raise TooLarge(
                f"lines: {len(lines)} in one batch, over max_log_batch_lines"
                f" ({LIMITS.max_log_batch_lines})"
            )
        task = leased_task(self._store, task_id, worker_id, lease)
        new = self._new_lines(task_id, task["lease"], seq, lines)
        try:
            self.files.append(task_id, self._headed(task_id, new) if new else new)
        except OSError as exc:
            raise self._changes.unwritable("the task log", exc) from exc
        self._remember(task_id, task["lease"], seq, len(lines))
        if lines and task["worker_id"] is not None:
            with self._changes.change():
                now = self._clock()
                seen = {"last_seen": now} if worker_id is not None else {}
                self._store.update_worker(task["worker_id"], {"log": "\n".join(lines[-5:]), **seen})
                self._store.update_task(task_id, {"last_progress": now})

    def read(
        self, task_id: int, *, tail: int | None = None, offset: int = 0, limit: int | None = None
    ) -> tuple[bytes, int]:
        """(text, full size). `tail` lines from the end, or `limit` bytes from `offset`."""
        task_state(self._store, task_id)
        size = self.files.size(task_id)
        if tail is not None:
            return self.files.tail(task_id, tail), size
        return self.files.read_range(task_id, offset, limit if limit is not None else size), size
