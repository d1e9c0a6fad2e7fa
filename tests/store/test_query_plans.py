"""The hot queries use the indexes meant for them (a plan, not a timing)."""

from __future__ import annotations

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
