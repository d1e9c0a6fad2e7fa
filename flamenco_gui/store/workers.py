"""The `workers` table."""

from __future__ import annotations

import json
from typing import Any, cast

from flamenco_gui.rows import Fields, PullState, WorkerRow, WorkerState
from flamenco_gui.store.sql import Tables


class WorkersTable(Tables):
    def insert_worker(self, row: Fields) -> int:
        return self._insert("workers", row)

    def get_worker(self, worker_id: int) -> WorkerRow | None:
        return cast(WorkerRow | None, self._get("workers", worker_id))

    def worker_state(self, worker_id: int) -> WorkerState | None:
        return cast(
            WorkerState | None,
            self._one("SELECT id, status, connection FROM workers WHERE id = ?", (worker_id,)),
        )

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
        return cast(PullState | None, row)

    def legacy_worker(self, hostname: str) -> WorkerRow | None:
        """A 2015 client's worker: known by hostname, no generated id."""
        rows = self._select(
            "workers", "SELECT * FROM workers WHERE hostname = ? AND uuid IS NULL", (hostname,)
        )
        return cast(WorkerRow, rows[0]) if rows else None

    def worker_by_uuid(self, uuid: str) -> WorkerRow | None:
        rows = self._select("workers", "SELECT * FROM workers WHERE uuid = ?", (uuid,))
        return cast(WorkerRow, rows[0]) if rows else None

    def update_worker(self, worker_id: int, fields: Fields) -> bool:
        """False when there is no such worker."""
        return self._update("workers", worker_id, fields)

    def delete_worker(self, worker_id: int) -> None:
        self.conn.execute("UPDATE tasks SET worker_id = NULL WHERE worker_id = ?", (worker_id,))
        self.conn.execute(
            "UPDATE task_history SET worker_id = NULL WHERE worker_id = ?", (worker_id,)
        )
        self.conn.execute("DELETE FROM job_blocklist WHERE worker_id = ?", (worker_id,))
        self.conn.execute("DELETE FROM blocklist_forgiven WHERE worker_id = ?", (worker_id,))
        self.conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    def list_workers(self) -> list[WorkerRow]:
        return cast(list[WorkerRow], self._select("workers", "SELECT * FROM workers ORDER BY id"))

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

    def online_workers(self) -> list[int]:
        return self._ids("SELECT id FROM workers WHERE connection != 'offline'")
