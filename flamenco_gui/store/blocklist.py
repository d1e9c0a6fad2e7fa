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
            "WHERE t.job_id = :j AND h.worker_id = :w AND h.outcome = 'failed' AND h.id > "
            "coalesce((SELECT after_history FROM blocklist_forgiven"
            " WHERE job_id = :j AND worker_id = :w), 0)",
            {"j": job_id, "w": worker_id},
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

    def blocklist_of_worker(self, worker_id: int) -> list[BlocklistRow]:
        """A few rows per worker at most (the table is small: no index needed)."""
        cur = self.conn.execute(
            "SELECT b.*, w.hostname FROM job_blocklist b LEFT JOIN workers w ON w.id = b.worker_id "
            "WHERE b.worker_id = ? ORDER BY b.created",
            (worker_id,),
        )
        return cast(list[BlocklistRow], [dict(r) for r in cur])

    def blocklist_clear(self, job_id: int, worker_id: int | None) -> None:
        """Let the worker (or every one) back on the job, its failures so far forgiven."""
        which = "job_id = ?" + ("" if worker_id is None else " AND worker_id = ?")
        params = (job_id,) if worker_id is None else (job_id, worker_id)
        self.conn.execute(
            "INSERT OR REPLACE INTO blocklist_forgiven (job_id, worker_id, after_history)"
            " SELECT job_id, worker_id, (SELECT coalesce(max(id), 0) FROM task_history)"
            f" FROM job_blocklist WHERE {which}",
            params,
        )
        self.conn.execute(f"DELETE FROM job_blocklist WHERE {which}", params)

    def count_eligible_workers(self, job_id: int) -> int:
        """Online, enabled workers not blocklisted on `job_id`."""
        sql = (
            ELIGIBLE_WORKERS + " AND NOT EXISTS (SELECT 1 FROM job_blocklist b"
            " WHERE b.job_id = ? AND b.worker_id = w.id)"
        )
        return int(self.conn.execute(sql, (job_id,)).fetchone()[0])
