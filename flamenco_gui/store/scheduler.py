"""The questions dispatch and the timeout checker ask: what runs next, who holds what,
who went silent."""

from __future__ import annotations

from typing import cast

from flamenco_gui.rows import TaskState, WorkerRow
from flamenco_gui.store.blocklist import ELIGIBLE_WORKERS
from flamenco_gui.store.sql import Tables
from flamenco_gui.store.tasks import TASK_STATE

# The asking worker's accepted kinds and tags (comma-framed), read inside the dispatch
# query (SQLite evaluates an uncorrelated subquery once): one statement per claim.
ACCEPTS = "(SELECT accepts FROM workers WHERE id = :w)"
TAGS = "coalesce((SELECT coalesce(tags, tags_offered) FROM workers WHERE id = :w), ',')"

# Live jobs this worker must not take tasks of.
_SKIPPED_JOBS = (
    "SELECT id FROM jobs INDEXED BY jobs_restricted WHERE status IN ('queued', 'rendering')"
    " AND (deleted IS NOT NULL OR waiting IS NOT NULL OR tags IS NOT NULL)"
    " AND (deleted IS NOT NULL OR waiting IS NOT NULL OR EXISTS (SELECT 1 FROM"
    f" json_each(jobs.tags) t WHERE instr({TAGS}, ',' || t.value || ',') = 0))"
)


class SchedulerQueries(Tables):
    def next_queued_task(self, worker_id: int) -> TaskState | None:
        """The head of the dispatch order that this worker may run (its state columns).

        Not a task of a job it is blocklisted on, nor of a job being deleted; not a task
        it already failed, unless every eligible worker (online, enabled) has failed it
        too, so a retry goes to another worker whenever there is one. The workers are
        counted only when that question comes up. Only a task whose kind the worker
        accepts (compilers/kinds.py; a worker that never said accepts any), of a job
        whose tags are all on the worker and that waits for no other job (farm/tags.py,
        farm/job_deps.py).

        The jobs to skip (deleted, waiting, or needing a tag the worker lacks) are
        found once per pull from the few live jobs in the `jobs_restricted` partial
        index, and checked first, so a task of a skipped job costs one lookup in that
        small set: a worker that may take none of 20,000 queued tasks walks them in
        about 30 ms, not 210 with a check per task (docs/performance.md).
        """
        return cast(
            TaskState | None,
            self._one(
                f"WITH skip AS ({_SKIPPED_JOBS}) "
                f"SELECT {TASK_STATE},"
                " (SELECT status FROM jobs WHERE id = tasks.job_id) AS job_status"
                " FROM tasks INDEXED BY tasks_dispatch"
                " WHERE status = 'queued' AND (job_id IS NULL OR job_id NOT IN skip) "
                f"AND ({ACCEPTS} IS NULL OR needs IS NULL"
                f"  OR instr({ACCEPTS}, ',' || needs || ',') > 0) "
                "AND NOT (job_id IS NOT NULL AND EXISTS (SELECT 1 FROM job_blocklist b "
                "  WHERE b.job_id = tasks.job_id AND b.worker_id = :w)) "
                "AND NOT (EXISTS (SELECT 1 FROM task_history h WHERE h.task_id = tasks.id "
                "  AND h.worker_id = :w AND h.outcome = 'failed') "
                "  AND (SELECT count(DISTINCT h2.worker_id) FROM task_history h2 "
                "       WHERE h2.task_id = tasks.id AND h2.outcome = 'failed') < "
                f"  ({ELIGIBLE_WORKERS})) "
                "AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks t2 ON t2.id = d.depends_on "
                "  WHERE d.task_id = tasks.id AND t2.status != 'completed') "
                "ORDER BY job_priority DESC, priority DESC, id LIMIT 1",
                {"w": worker_id},
            ),
        )

    def tasks_leased_to(self, worker_id: int) -> list[TaskState]:
        return cast(
            list[TaskState],
            [
                dict(r)
                for r in self.conn.execute(
                    f"SELECT {TASK_STATE} FROM tasks WHERE worker_id = ? AND status = 'rendering'",
                    (worker_id,),
                )
            ],
        )

    def stale_workers(self, seen_before: float) -> list[WorkerRow]:
        return cast(
            list[WorkerRow],
            self._select(
                "workers",
                "SELECT * FROM workers WHERE connection != 'offline' AND last_seen < ?",
                (seen_before,),
            ),
        )

    def hung_tasks(self, progress_before: float) -> list[TaskState]:
        return cast(
            list[TaskState],
            [
                dict(r)
                for r in self.conn.execute(
                    f"SELECT {TASK_STATE} FROM tasks WHERE status = 'rendering'"
                    " AND last_progress < ?",
                    (progress_before,),
                )
            ],
        )
