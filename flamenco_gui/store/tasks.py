"""The `tasks` table and its dependencies (`task_deps`).

Statements over a job's tasks take a slice at a time (`limit`): the farm's job actions
move 100,000 tasks in slices that each take a few milliseconds, with the loop running
in between (see farm/task_state_machine.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from flamenco_gui.rows import Fields, TaskRow, TaskState
from flamenco_gui.store.sql import Row, Tables, encode, marks

# The columns the farm's rules read on every worker report (no JSON, no big text).
TASK_STATE = "id, job_id, worker_id, status, lease, attempts, frame_start, frame_end, priority"


class TasksTable(Tables):
    @staticmethod
    def encode_tasks(tasks: Sequence[Row]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Task rows as columns and value tuples for `insert_tasks`. Pure, so a caller may
        run it on a worker thread: encoding 100k rows takes the better part of a second."""
        if not tasks:
            return [], []
        cols = [c for c in tasks[0] if c != "job_id"]
        enc = [encode("tasks", t) for t in tasks]
        return cols, [tuple(r[c] for c in cols) for r in enc]

    def insert_tasks(
        self, job_id: int, columns: Sequence[str], values: Sequence[tuple[Any, ...]]
    ) -> list[int]:
        """Insert encoded task rows of one job with one executemany; returns their ids."""
        before = self.conn.execute("SELECT coalesce(max(id), 0) FROM tasks").fetchone()[0]
        cols = ", ".join(["job_id", *columns])
        self.conn.executemany(
            f"INSERT INTO tasks ({cols}) VALUES ({marks(['job_id', *columns])})",
            ((job_id, *v) for v in values),
        )
        # Rows past the old maximum are ours: this transaction is the only writer.
        return self._ids("SELECT id FROM tasks WHERE id > ? ORDER BY id", (before,))

    def insert_task(self, row: Fields) -> int:
        return self._insert("tasks", row)

    def insert_deps(self, pairs: Sequence[tuple[int, int]]) -> None:
        """(task, the task it waits for) pairs."""
        self.conn.executemany("INSERT INTO task_deps (task_id, depends_on) VALUES (?, ?)", pairs)

    def blank_task(self) -> Row:
        """A task row as the table would default it: every column, with its default."""
        if not hasattr(self, "_blank_task"):
            cur = self.conn.execute("PRAGMA table_info(tasks)")
            self._blank_task = {
                name: None if default is None else json.loads(default)
                for _, name, _, _, default, _ in cur
            }
        return dict(self._blank_task)

    def get_task(self, task_id: int) -> TaskRow | None:
        return cast(TaskRow | None, self._get("tasks", task_id))

    def task_state(self, task_id: int) -> TaskState | None:
        """What the rules need of a task, without the big columns: the hot path of
        every worker report."""
        return cast(
            TaskState | None,
            self._one(f"SELECT {TASK_STATE} FROM tasks WHERE id = ?", (task_id,)),
        )

    def update_task(self, task_id: int, fields: Fields) -> None:
        """Any column but the status (progress, attempts, priority, times)."""
        if "status" in fields:
            raise ValueError("a task's status changes only through move_task(s)")
        self._update("tasks", task_id, fields)

    def report_progress(
        self, task_id: int, worker_id: int, lease: int | None, fields: Fields
    ) -> TaskState | None:
        """Progress columns (never the status) of a task that `worker_id` renders under
        `lease` (any lease when None), checked and written in one statement; None when
        it does not hold it."""
        if "status" in fields:
            raise ValueError("a task's status changes only through move_task(s)")
        enc = encode("tasks", fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        row = self.conn.execute(
            f"UPDATE tasks SET {assignments} WHERE id = ? AND worker_id = ?"
            f" AND status = 'rendering' AND (? IS NULL OR lease = ?) RETURNING {TASK_STATE}",
            (*enc.values(), task_id, worker_id, lease, lease),
        ).fetchone()
        return None if row is None else cast(TaskState, dict(row))

    def complete_leased_task(
        self, task_id: int, worker_id: int, lease: int | None, fields: Fields
    ) -> TaskState | None:
        """A completion reported by the worker rendering the task under `lease` (any
        when None), checked by the write itself, as a progress report is: the task
        state after it, or None when the worker does not hold it, or when its job is a
        `manager` one and the task has not placed a frame per frame of its range (the
        rule of farm/file_store.py `require_frames`, which says why). Called by the
        task state machine alone, as `move_task`."""
        enc = encode("tasks", fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        row = self.conn.execute(
            f"UPDATE tasks SET {assignments}, frame_current = frame_end"
            " WHERE id = ? AND worker_id = ? AND status = 'rendering' AND (? IS NULL OR lease = ?)"
            " AND (job_id IS NULL OR (SELECT storage FROM jobs WHERE id = tasks.job_id)"
            " IS NOT 'manager' OR (SELECT count(*) FROM task_frames f WHERE f.task_id = tasks.id)"
            f" >= frame_end - frame_start + 1) RETURNING {TASK_STATE}",
            (*enc.values(), task_id, worker_id, lease, lease),
        ).fetchone()
        return None if row is None else cast(TaskState, dict(row))

    def move_task(self, task_id: int, fields: Fields) -> None:
        """A status change (with the columns that go with it). Called by the task
        state machine alone: tests/farm/test_status_writes.py holds it to that."""
        self._update("tasks", task_id, fields)

    def list_tasks(
        self,
        *,
        status: str | None = None,
        job_id: int | None = None,
        worker_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[TaskRow], int]:
        filters = {"status": status, "job_id": job_id, "worker_id": worker_id}
        rows, total = self._page("tasks", filters, limit, offset)
        return cast(list[TaskRow], rows), total

    def depends_on(self, task_id: int) -> list[int]:
        return self._ids("SELECT depends_on FROM task_deps WHERE task_id = ?", (task_id,))

    def waiting_dependents(self, task_ids: Sequence[int]) -> list[TaskState]:
        """Tasks not yet run (queued or paused) that wait for any of `task_ids`."""
        if not task_ids:
            return []
        return cast(
            list[TaskState],
            [
                dict(r)
                for r in self.conn.execute(
                    f"SELECT DISTINCT {', '.join('t.' + c for c in TASK_STATE.split(', '))}"
                    # CROSS JOIN keeps task_deps outside: on a status index the
                    # planner would walk every queued task of the farm per call.
                    " FROM task_deps d CROSS JOIN tasks t ON t.id = d.task_id"
                    f" WHERE d.depends_on IN ({marks(task_ids)})"
                    " AND t.status IN ('queued', 'paused')",
                    list(task_ids),
                )
            ],
        )

    def delete_task(self, task_id: int) -> None:
        self.conn.execute("DELETE FROM task_history WHERE task_id = ?", (task_id,))
        self.conn.execute(
            "DELETE FROM task_deps WHERE task_id = ? OR depends_on = ?", (task_id, task_id)
        )
        self.conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    # -- a job's tasks, a slice at a time ---------------------------------------------

    def job_task_slice(
        self, job_id: int, status: str, limit: int, after: int = 0
    ) -> list[TaskState]:
        """Up to `limit` of the job's tasks in `status`, by id, past id `after`. One
        status at a time: the (job_id, status) index then hands them over in id order,
        so a slice reads `limit` rows however big the job (with an IN list it read and
        sorted every remaining task, each slice)."""
        rows = self.conn.execute(
            f"SELECT {TASK_STATE} FROM tasks INDEXED BY tasks_job_status"
            " WHERE job_id = ? AND status = ? AND id > ? ORDER BY id LIMIT ?",
            (job_id, status, after, limit),
        )
        return cast(list[TaskState], [dict(r) for r in rows])

    def move_tasks(self, task_ids: Sequence[int], fields: Fields) -> None:
        """The same status change on every task of `task_ids`, in one statement (the
        task state machine's alone, as `move_task`)."""
        if not task_ids:
            return
        enc = encode("tasks", fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        self.conn.execute(
            f"UPDATE tasks SET {assignments} WHERE id IN ({marks(task_ids)})",
            [*enc.values(), *task_ids],
        )

    def job_priority_slice(
        self, job_id: int, status: str, priority: int, limit: int, after: int = 0
    ) -> int | None:
        """Give up to `limit` of the job's tasks in `status` (past id `after`) the job's
        new priority; the last id, or None when none was left (walked as
        `job_task_slice`, so each slice reads only its own rows)."""
        ids = self._ids(
            "SELECT id FROM tasks INDEXED BY tasks_job_status"
            " WHERE job_id = ? AND status = ? AND id > ? ORDER BY id LIMIT ?",
            (job_id, status, after, limit),
        )
        if not ids:
            return None
        self.conn.execute(
            f"UPDATE tasks SET job_priority = ? WHERE id IN ({marks(ids)})", [priority, *ids]
        )
        return ids[-1]

    def delete_job_task_slice(self, job_id: int, limit: int) -> list[int]:
        """Delete up to `limit` of the job's tasks (with their history and
        dependencies); their ids."""
        # In index order, not by id: sorting would read every remaining task each slice.
        ids = self._ids("SELECT id FROM tasks WHERE job_id = ? LIMIT ?", (job_id, limit))
        if ids:
            params = ids
            self.conn.execute(f"DELETE FROM task_history WHERE task_id IN ({marks(ids)})", params)
            self.conn.execute(
                f"DELETE FROM task_deps WHERE task_id IN ({marks(ids)})"
                f" OR depends_on IN ({marks(ids)})",
                [*params, *params],
            )
            self.conn.execute(f"DELETE FROM tasks WHERE id IN ({marks(ids)})", params)
        return ids
