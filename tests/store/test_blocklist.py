"""The blocklist's failure count on the real store: a clear forgives what came before."""

from __future__ import annotations

from pathlib import Path

from flamenco_gui.store.db import Store


def test_a_cleared_entry_forgives_the_failures_before_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        job = store.insert_job({"name": "j", "type": "command", "status": "queued", "priority": 1})
        worker = store.insert_worker({"hostname": "w", "status": "enabled", "connection": "online"})
        tasks = [
            store.insert_task({"job_id": job, "type": "command", "status": "queued", "priority": 0})
            for _ in range(3)
        ]

        def fail(task: int, lease: int) -> None:
            store.conn.execute(
                "INSERT INTO task_history (task_id, worker_id, lease, outcome)"
                " VALUES (?, ?, ?, 'failed')",
                (task, worker, lease),
            )

        fail(tasks[0], 1)
        fail(tasks[1], 1)
        assert store.failures_in_job(job, worker) == 2
        store.blocklist_add(job, worker, 1.0, "failed 2 tasks of this job")
        store.blocklist_clear(job, worker)
        assert store.blocklist(job) == []
        assert store.failures_in_job(job, worker) == 0
        fail(tasks[2], 1)
        assert store.failures_in_job(job, worker) == 1
    store.close()
