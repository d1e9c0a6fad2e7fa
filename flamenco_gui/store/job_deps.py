"""The `job_deps` table: jobs that wait for other jobs (farm/job_deps.py)."""

from __future__ import annotations

from collections.abc import Sequence

from flamenco_gui.store.sql import Tables


class JobDepsTable(Tables):
    def insert_job_deps(self, job_id: int, parents: Sequence[int]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO job_deps (job_id, depends_on) VALUES (?, ?)",
            [(job_id, p) for p in parents],
        )

    def job_parents(self, job_id: int) -> list[tuple[int, str]]:
        """(id, status) of each job this one waits for, by id; a deleted one is gone."""
        cur = self.conn.execute(
            "SELECT j.id, j.status FROM job_deps d JOIN jobs j ON j.id = d.depends_on"
            " WHERE d.job_id = ? AND j.deleted IS NULL ORDER BY j.id",
            (job_id,),
        )
        return [(int(i), str(s)) for i, s in cur]

    def live_job_ids(self, job_ids: Sequence[int]) -> set[int]:
        marks = ", ".join("?" for _ in job_ids)
        return set(
            self._ids(f"SELECT id FROM jobs WHERE deleted IS NULL AND id IN ({marks})", job_ids)
        )

    def set_job_waiting(self, job_id: int, waiting: bool) -> None:
        self.conn.execute(
            "UPDATE jobs SET waiting = ? WHERE id = ?", (1 if waiting else None, job_id)
        )

    def release_children(self, parent_id: int) -> list[int]:
        """The waiting jobs that `parent_id` was the last unfinished parent of, set free.

        A deleted parent no longer holds its children back."""
        ids = self._ids(
            "SELECT c.id FROM job_deps d JOIN jobs c ON c.id = d.job_id"
            " WHERE d.depends_on = ? AND c.waiting IS NOT NULL AND NOT EXISTS ("
            "  SELECT 1 FROM job_deps d2 JOIN jobs p ON p.id = d2.depends_on"
            "  WHERE d2.job_id = c.id AND p.status != 'completed' AND p.deleted IS NULL)",
            (parent_id,),
        )
        if ids:
            marks = ", ".join("?" for _ in ids)
            self.conn.execute(f"UPDATE jobs SET waiting = NULL WHERE id IN ({marks})", ids)
        return ids

    def job_children(self, job_id: int) -> list[int]:
        return self._ids(
            "SELECT job_id FROM job_deps WHERE depends_on = ? ORDER BY job_id", (job_id,)
        )
