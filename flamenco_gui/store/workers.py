"""The `workers` table."""

from __future__ import annotations

import json
from typing import Any, cast

from flamenco_gui.rows import Fields, PullState, WorkerRow, WorkerState
from flamenco_gui.store.sql import Tables


class WorkersTable(Tables):
    """The rows, and what is written behind them: the columns in which a worker's row
    mirrors its task's progress (activity, time cost) and its liveness (last seen,
    online), which every report of every cycle changes, are kept here until
    `write_behind` (each timeout check, twice a second, and at close) or the next
    write of that row. Every read of a row through this class sees them; a query that
    reads those columns in SQL writes them first (farm/timeouts.py)."""

    _behind: dict[int, Fields]  # worker id -> columns not yet written (Store.__init__)

    def insert_worker(self, row: Fields) -> int:
        return self._insert("workers", row)

    def get_worker(self, worker_id: int) -> WorkerRow | None:
        return cast(WorkerRow | None, self._overlaid(self._get("workers", worker_id)))

    def worker_state(self, worker_id: int) -> WorkerState | None:
        row = self._one("SELECT id, status, connection FROM workers WHERE id = ?", (worker_id,))
        return cast(WorkerState | None, self._overlaid(row, ("connection",)))

    def update_worker_later(self, worker_id: int, fields: Fields) -> None:
        """Columns that mirror (see the class): written behind."""
        self._behind.setdefault(worker_id, {}).update(fields)

    def write_behind(self) -> int:
        """Every worker's columns held back, written (in the caller's transaction);
        returns how many rows."""
        behind, self._behind = self._behind, {}
        for worker_id, fields in behind.items():
            self._update("workers", worker_id, fields)
        return len(behind)

    def _overlaid(self, row: dict[str, Any] | None, only: tuple[str, ...] = ()) -> Any:
        if row is not None and (held := self._behind.get(row["id"])):
            row.update({k: v for k, v in held.items() if not only or k in only})
        return row

    def pull_state(self, worker_id: int) -> PullState | None:
        """The worker and whether it holds a rendering task, in the one read a pull makes
        before it claims (the tasks index on worker and status answers the second)."""
        row = self._one(
            "SELECT id, status, connection, hostname, EXISTS (SELECT 1 FROM tasks"
            "  WHERE worker_id = workers.id AND status = 'rendering') AS holding"
            " FROM workers WHERE id = ?",
            (worker_id,),
        )
        if row is not None:
            row["holding"] = bool(row["holding"])
        return cast(PullState | None, self._overlaid(row, ("connection",)))

    def legacy_worker(self, hostname: str) -> WorkerRow | None:
        """A 2015 client's worker: known by hostname, no generated id."""
        rows = self._select(
            "workers", "SELECT * FROM workers WHERE hostname = ? AND uuid IS NULL", (hostname,)
        )
        return cast(WorkerRow, self._overlaid(rows[0])) if rows else None

    def worker_by_uuid(self, uuid: str) -> WorkerRow | None:
        rows = self._select("workers", "SELECT * FROM workers WHERE uuid = ?", (uuid,))
        return cast(WorkerRow, self._overlaid(rows[0])) if rows else None

    def update_worker(self, worker_id: int, fields: Fields) -> bool:
        """False when there is no such worker. Takes along what was held back for it
        (the new `fields` win)."""
        held = self._behind.pop(worker_id, None)
        return self._update("workers", worker_id, held | fields if held else fields)

    def delete_worker(self, worker_id: int) -> None:
        self.conn.execute("UPDATE tasks SET worker_id = NULL WHERE worker_id = ?", (worker_id,))
        self.conn.execute(
            "UPDATE task_history SET worker_id = NULL WHERE worker_id = ?", (worker_id,)
        )
        self.conn.execute("DELETE FROM job_blocklist WHERE worker_id = ?", (worker_id,))
        self.conn.execute("DELETE FROM blocklist_forgiven WHERE worker_id = ?", (worker_id,))
        self.conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))
        self._behind.pop(worker_id, None)

    def list_workers(self) -> list[WorkerRow]:
        rows = self._select("workers", "SELECT * FROM workers ORDER BY id")
        return cast(list[WorkerRow], [self._overlaid(r) for r in rows])

    def worker_secret_hashes(self) -> dict[str, int]:
        cur = self.conn.execute("SELECT secret_hash, id FROM workers WHERE secret_hash IS NOT NULL")
        return {str(h): int(i) for h, i in cur}

    def accepted_kinds(self) -> set[str] | None:
        """The kinds some enabled worker accepts; None when one accepts anything (a
        2015 client that never said)."""
        kinds: set[str] = set()
        for (accepts,) in self.conn.execute("SELECT accepts FROM workers WHERE status = 'enabled'"):
            if accepts is None:
                return None
            kinds.update(k for k in str(accepts).split(",") if k)
        return kinds

    def enabled_worker_tags(self) -> list[str]:
        """Each enabled worker's tags (comma-framed), for why a job's tasks would wait."""
        cur = self.conn.execute(
            "SELECT coalesce(tags, tags_offered, ',') FROM workers WHERE status = 'enabled'"
        )
        return [str(t) for (t,) in cur]

    def worker_controls(self) -> dict[int, dict[str, Any]]:
        """Every pending remote-control request (farm/worker_control.py), at start."""
        cur = self.conn.execute("SELECT id, control FROM workers WHERE control IS NOT NULL")
        return {int(i): json.loads(c) for i, c in cur}

    def worker_schedules(self) -> dict[int, dict[str, Any]]:
        """Every worker's sleep schedule (farm/schedules.py), at start."""
        cur = self.conn.execute("SELECT id, schedule FROM workers WHERE schedule IS NOT NULL")
        return {int(i): json.loads(c) for i, c in cur}

    def free_stale_current_tasks(self) -> None:
        """A worker row whose current task is not one it renders: freed (at start)."""
        self.conn.execute(
            "UPDATE workers SET current_task = NULL, activity = NULL WHERE current_task IS NOT"
            " NULL AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = workers.current_task"
            " AND t.worker_id = workers.id AND t.status = 'rendering')"
        )

    def online_workers(self) -> list[int]:
        return self._ids("SELECT id FROM workers WHERE connection != 'offline'")
