"""The `job_blocklist` table: workers kept off a job after failing its tasks."""

from __future__ import annotations

from typing import cast

from flamenco_gui.rows import BlocklistRow
from flamenco_gui.store.sql import Tables

ELIGIBLE_WORKERS = (
    "SELECT count(*) FROM workers w WHERE connection != 'offline' AND status = 'enabled'"
)


class BlocklistTable(Tables):
    def failures_in_job(self, job_id: int, worker_id: int) -> int:
        cur = self.conn.execute(
            "SELECT count(*) FROM task_history h JOIN tasks t ON t.id = h.task_id "
            "WHERE t.job_id = ? AND h.worker_id = ? AND h.outcome = 'failed'",
            (job_id, worker_id),
        )
        return int(cur.fetchone()[0])

    def blocklist_add(self, job_id: int, worker_id: int, created: float, reason: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO job_blocklist (job_id, worker_id, created, reason) "
            "VALUES (?, ?, ?, ?)",
            (job_id, worker_id, created, reason),
        )

    def blocklist(self, job_id: int) -> list[BlocklistRow]:
        cur = self.conn.execute(
            "SELECT b.*, w.hostname FROM job_blocklist b LEFT JOIN workers w ON w.id = b.worker_id "
            "WHERE b.job_id = ? ORDER BY b.created",
            (job_id,),
        )
        return cast(list[BlocklistRow], [dict(r) for r in cur])

    def blocklist_clear(self, job_id: int, worker_id: int | None) -> None:
        if worker_id is None:
            self.conn.execute("DELETE FROM job_blocklist WHERE job_id = ?", (job_id,))
        else:
            self.conn.execute(
                "DELETE FROM job_blocklist WHERE job_id = ? AND worker_id = ?", (job_id, worker_id)
            )

    def count_eligible_workers(self, job_id: int) -> int:
        """Online, enabled workers not blocklisted on `job_id`."""
        sql = (
            ELIGIBLE_WORKERS + " AND NOT EXISTS (SELECT 1 FROM job_blocklist b"
            " WHERE b.job_id = ? AND b.worker_id = w.id)"
        )
        return int(self.conn.execute(sql, (job_id,)).fetchone()[0])
