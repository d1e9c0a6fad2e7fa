"""The questions a job's ETA asks (farm/eta.py): its span, its work left, its takers.

Asked on the loop every second or so while a job renders, so none of them grows with
the job: the speeds come from its last RECENT frames and completed tasks (by index, in
order), the work left from the rendering tasks alone (the queued ones are counted by
the caller from the job's task counts).
"""

from __future__ import annotations

from typing import Any, cast

from flamenco_gui.rows import WorkerSpeed
from flamenco_gui.store.sql import Tables

RECENT = 1000  # frames, and completed tasks, a job's speeds are measured over


class EtaQueries(Tables):
    def job_speeds(self, job_id: int) -> list[WorkerSpeed]:
        """Per worker: its frames after a task's first and the seconds they took, and
        its tasks' first frames with the start-up before each (WorkerSpeed)."""
        rows = self.conn.execute(
            "SELECT worker_id,"
            " sum(startup_seconds IS NULL) AS frames,"
            " sum(CASE WHEN startup_seconds IS NULL THEN finished - started END) AS seconds,"
            " sum(startup_seconds IS NOT NULL) AS first_frames,"
            " sum(CASE WHEN startup_seconds IS NOT NULL"
            "     THEN finished - started + startup_seconds END) AS first_seconds"
            " FROM (SELECT * FROM frame_records INDEXED BY frame_records_job_finished"
            "  WHERE job_id = ? AND finished IS NOT NULL ORDER BY finished DESC LIMIT ?)"
            " WHERE started IS NOT NULL GROUP BY worker_id",
            (job_id, RECENT),
        )
        return cast(list[WorkerSpeed], [dict(r) for r in rows])

    def job_task_times(self, job_id: int) -> tuple[int, float, int]:
        """The job's last completed tasks' attempts: how many, their seconds and frames."""
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(h.ended - h.started), 0),"
            " coalesce(sum(t.frame_end - t.frame_start + 1), 0)"
            " FROM (SELECT id, frame_start, frame_end FROM tasks INDEXED BY tasks_job_status"
            "  WHERE job_id = ? AND status = 'completed' ORDER BY id DESC LIMIT ?) t"
            " JOIN task_history h ON h.task_id = t.id WHERE h.outcome = 'completed'",
            (job_id, RECENT),
        ).fetchone()
        return int(row[0]), float(row[1]), int(row[2])

    def job_span(self, job_id: int) -> tuple[float | None, float | None]:
        """When the job's first attempt started and its last one ended."""
        row = self.conn.execute(
            "SELECT min(h.started), max(h.ended) FROM tasks t INDEXED BY tasks_job_status"
            " JOIN task_history h ON h.task_id = t.id WHERE t.job_id = ?",
            (job_id,),
        ).fetchone()
        return row[0], row[1]

    def job_rendering(self, job_id: int) -> list[tuple[int | None, float]]:
        """Each rendering task's worker and frames left (as many as workers, at most)."""
        return [
            (r[0], max(0.0, (r[2] - r[1] + 1) * (1.0 - (r[3] or 0.0) / 100.0)))
            for r in self.conn.execute(
                "SELECT worker_id, frame_start, frame_end, progress"
                " FROM tasks INDEXED BY tasks_job_status WHERE job_id = ? AND status = 'rendering'",
                (job_id,),
            )
        ]

    def workers_for_job(self, job_id: int) -> list[dict[str, Any]]:
        """Online, enabled workers not blocklisted on the job, with the job of the task
        they render now (`busy_job`, None when idle)."""
        rows = self.conn.execute(
            "SELECT w.id, w.accepts, t.job_id AS busy_job FROM workers w"
            " LEFT JOIN tasks t ON t.id = w.current_task AND t.status = 'rendering'"
            " WHERE w.connection = 'online' AND w.status = 'enabled' AND NOT EXISTS"
            " (SELECT 1 FROM job_blocklist b WHERE b.job_id = ? AND b.worker_id = w.id)",
            (job_id,),
        )
        return [dict(r) for r in rows]
