"""The worker row's mirror of its task (activity, time cost, current task) and its
liveness (last seen, online) are written behind: every read through the store sees
them at once, the row on disk at the next write of it or `write_behind`, and a crash
that loses them leaves no worker naming a task it no longer renders."""

from __future__ import annotations

from pathlib import Path

from flamenco_gui.store.db import Store


def _on_disk(store: Store, worker: int) -> tuple:
    return tuple(
        store.conn.execute(
            "SELECT activity, last_seen, current_task FROM workers WHERE id = ?", (worker,)
        ).fetchone()
    )


def test_held_back_columns_are_read_at_once_and_written_later(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        worker = store.insert_worker({"hostname": "w", "status": "enabled", "connection": "online"})
        store.update_worker_later(worker, {"activity": "Fra:3", "last_seen": 5.0})
    assert _on_disk(store, worker) == (None, None, None)
    row = store.get_worker(worker)
    assert row is not None and (row["activity"], row["last_seen"]) == ("Fra:3", 5.0)
    assert [w["activity"] for w in store.list_workers()] == ["Fra:3"]
    with store.uow.change():  # the next write of the row takes them along; its own win
        store.update_worker(worker, {"activity": "task 9", "current_task": None})
    assert _on_disk(store, worker) == ("task 9", 5.0, None)
    with store.uow.change():
        store.update_worker_later(worker, {"last_seen": 7.0})
        assert store.write_behind() == 1
        assert store.write_behind() == 0
    assert _on_disk(store, worker) == ("task 9", 7.0, None)
    store.close()


def test_close_writes_them_and_a_crash_is_repaired_at_start(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        worker = store.insert_worker({"hostname": "w", "status": "enabled", "connection": "online"})
        job = store.insert_job({"name": "j", "type": "command", "status": "queued", "priority": 1})
        task = store.insert_task(
            {"job_id": job, "type": "command", "status": "completed", "priority": 0}
        )
        store.update_worker(worker, {"current_task": task, "activity": "task"})
        store.update_worker_later(worker, {"last_seen": 3.0})
    store.close()
    again = Store(tmp_path / "farm.sqlite")
    assert _on_disk(again, worker) == ("task", 3.0, task)  # written at close
    # As after a crash that lost the completion's held-back "current task: none": the
    # row names a task its worker does not render; the start's repair frees it.
    with again.uow.change():
        again.free_stale_current_tasks()
    assert _on_disk(again, worker) == (None, 3.0, None)
    again.close()
