"""The `jobs` table and the per-job task counts that triggers keep (schema v5)."""

from __future__ import annotations

from typing import cast

from flamenco_gui.rows import Fields, JobRow
from flamenco_gui.store.sql import Tables

# A job being deleted (in slices, see farm/jobs.py) is gone for every reader at once.
_LIVE = "deleted IS NULL"


class JobsTable(Tables):
    def insert_job(self, job: Fields) -> int:
        return self._insert("jobs", job)

    def get_job(self, job_id: int) -> JobRow | None:
        rows = self._select("jobs", f"SELECT * FROM jobs WHERE id = ? AND {_LIVE}", (job_id,))
        return cast(JobRow, rows[0]) if rows else None

    def list_jobs(self, status: str | None, limit: int, offset: int) -> tuple[list[JobRow], int]:
        rows, total = self._page("jobs", {"status": status}, limit, offset, _LIVE)
        return cast(list[JobRow], rows), total

    def update_job(self, job_id: int, fields: Fields) -> None:
        """Any column but the status (which `set_job_status` writes)."""
        if "status" in fields:
            raise ValueError("a job's status changes only through set_job_status")
        self._update("jobs", job_id, fields)

    def set_job_status(self, job_id: int, status: str, when: float, started: bool = False) -> None:
        """Called by the task state machine alone (tests/farm/test_status_writes.py);
        `started`: a new run begins now."""
        self.conn.execute(
            "UPDATE jobs SET status = ?, updated = ?,"
            " started = CASE WHEN ? THEN ? ELSE started END WHERE id = ?",
            (status, when, started, when, job_id),
        )

    def job_status_and_counts(self, job_id: int) -> tuple[str, dict[str, int]] | None:
        """A job's status and its task counts (see `job_task_counts`) in one query."""
        rows = self.conn.execute(
            "SELECT j.status, c.status, c.n FROM jobs j LEFT JOIN job_task_counts c"
            " ON c.job_id = j.id AND c.n > 0 WHERE j.id = ?",
            (job_id,),
        ).fetchall()
        if not rows:
            return None
        return str(rows[0][0]), {str(status): int(n) for _, status, n in rows if status}

    def job_task_counts(self, job_id: int) -> dict[str, int]:
        """Kept by triggers on `tasks` (schema v5), so reading it costs no scan."""
        cur = self.conn.execute(
            "SELECT status, n FROM job_task_counts WHERE job_id = ? AND n > 0", (job_id,)
        )
        return {str(s): int(n) for s, n in cur}

    def mark_job_deleted(self, job_id: int, when: float) -> None:
        self.conn.execute("UPDATE jobs SET deleted = ? WHERE id = ?", (when, job_id))

    def set_job_priority(self, job_id: int, priority: int) -> None:
        self.conn.execute("UPDATE jobs SET priority = ? WHERE id = ?", (priority, job_id))

    def remove_job_row(self, job_id: int) -> None:
        """The job's own rows, once its tasks are gone."""
        self.conn.execute("DELETE FROM job_blocklist WHERE job_id = ?", (job_id,))
        self.conn.execute("DELETE FROM blocklist_forgiven WHERE job_id = ?", (job_id,))
        self.conn.execute("DELETE FROM job_task_counts WHERE job_id = ?", (job_id,))
        self.conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def unfinished_deletes(self) -> list[int]:
        """Jobs whose deletion or submission a crash cut short: a job marked deleted,
        or one with fewer tasks than it was submitted with."""
        return self._ids(
            "SELECT j.id FROM jobs j WHERE j.deleted IS NOT NULL OR (j.tasks_expected IS NOT"
            " NULL AND j.tasks_expected > (SELECT count(*) FROM tasks t WHERE t.job_id = j.id))"
        )
