"""The hot queries use the indexes meant for them (a plan, not a timing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flamenco_gui.store.db import Store


def test_a_workers_leased_tasks_are_found_by_index_not_by_its_history(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    plan = " ".join(
        str(row[-1])
        for row in store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM tasks WHERE worker_id = 1 AND status = 'rendering'"
        )
    )
    assert "tasks_worker_status (worker_id=? AND status=?)" in plan, plan
    store.close()


def _plans_of(store: Store, call: Callable[[], object]) -> list[str]:
    """The query plan of every statement `call` runs (traced, then explained)."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        store.conn.set_trace_callback(None)
    return [
        " ".join(str(r[-1]) for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql))
        for sql in seen
        if sql.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE"))
    ]


def test_a_job_slice_reads_its_own_rows_however_big_the_job(tmp_path: Path) -> None:
    """The statements of a job action's slice: none sorts or scans the job's (or the
    farm's) other tasks. Each did once, and a 100,000-task cancel took 36 ms a slice."""
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        job = store.insert_job({"name": "j", "type": "command", "status": "queued", "priority": 1})
        rows = [{"type": "command", "status": "queued", "priority": 0}] * 3000
        columns, values = store.encode_tasks(rows)
        ids = store.insert_tasks(job, columns, values)
        store.move_tasks(ids[1000:2000], {"status": "paused"})
    store.conn.execute("ANALYZE")  # the planner at its best informed: it still must not scan
    plans = _plans_of(store, lambda: store.job_task_slice(job, "queued", 500, ids[10]))
    plans += _plans_of(store, lambda: store.waiting_dependents(ids[:500]))
    plans += _plans_of(store, lambda: store.job_attempt_sums(job, "queued", ids[10], 500))
    with store.uow.change():
        plans += _plans_of(store, lambda: store.job_priority_slice(job, "paused", 7, 500))
        plans += _plans_of(store, lambda: store.delete_job_task_slice(job, 500))
    assert plans, "nothing was traced"
    for plan in plans:
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
        assert not re.search(r"\bSCAN (t|tasks)\b", plan), plan
    store.close()


def test_a_jobs_eta_reads_a_bounded_part_of_the_job(tmp_path: Path) -> None:
    """The ETA is asked every second while a job renders, on the loop: its speeds come
    from the job's latest frames and completed tasks by index, in order, LIMITed, and
    nothing walks the job's (or the farm's) tasks or frames whole. The first version
    scanned them all and held the window's loop 60-150 ms a second at 100,000 tasks."""
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        job = store.insert_job({"name": "j", "type": "command", "status": "queued", "priority": 1})
        rows = [{"type": "command", "status": "completed", "priority": 0}] * 3000
        columns, values = store.encode_tasks(rows)
        store.insert_tasks(job, columns, values)
    store.conn.execute("ANALYZE")

    def ask() -> None:
        store.job_speeds(job)
        store.job_task_times(job)
        store.job_rendering(job)

    plans = _plans_of(store, ask)
    assert len(plans) == 3, plans
    assert "USING INDEX frame_records_job_finished (job_id=?" in plans[0], plans[0]
    assert "tasks_job_status (job_id=? AND status=?)" in plans[1], plans[1]
    for plan in plans:
        # (`SCAN t`, `SCAN (subquery-1)`: the LIMITed rows themselves)
        assert not re.search(r"\bSCAN (tasks|frame_records|task_history|h)\b", plan), plan
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
    store.close()
