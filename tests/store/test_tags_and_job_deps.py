"""The pull's tag and job-dependency checks, in SQL (store/scheduler.py, job_deps.py)."""

from __future__ import annotations

import re
from pathlib import Path

from flamenco_gui.farm.tags import encode_tags
from flamenco_gui.store.db import Store


def _job(store: Store, **fields: object) -> tuple[int, int]:
    """A job with one queued task: (job id, task id)."""
    job = store.insert_job({"name": "j", "type": "command", "status": "queued", "priority": 1,
                            **fields})  # fmt: skip
    task_row = {"type": "command", "status": "queued", "priority": 0,
                "job_priority": fields.get("priority", 1)}  # fmt: skip
    columns, values = store.encode_tasks([task_row])
    (task,) = store.insert_tasks(job, columns, values)
    return job, task


def _worker(store: Store, name: str, tags: list[str] | None) -> int:
    return store.insert_worker(
        {"hostname": name, "status": "enabled", "connection": "online",
         "tags_offered": encode_tags(tags)}
    )  # fmt: skip


def test_the_pull_hands_a_tagged_job_only_to_a_worker_with_all_its_tags(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        _job(store, tags=["gpu", "lookdev"])
        plain = _worker(store, "plain", None)
        gpu = _worker(store, "gpu", ["gpu"])
        both = _worker(store, "both", ["gpu", "lookdev", "linux"])
        assert store.next_queued_task(plain) is None
        assert store.next_queued_task(gpu) is None
        assert store.next_queued_task(both) is not None
        # The wrangler's tags win over the offered ones.
        store.update_worker(both, {"tags": encode_tags(["linux"])})
        assert store.next_queued_task(both) is None
        store.update_worker(plain, {"tags": encode_tags(["lookdev", "gpu"])})
        assert store.next_queued_task(plain) is not None
    store.close()


def test_a_waiting_job_is_skipped_until_its_last_parent_completes(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        p1, _ = _job(store)
        p2, _ = _job(store)
        child, child_task = _job(store, priority=99)
        store.insert_job_deps(child, [p1, p2])
        store.set_job_waiting(child, True)
        w = _worker(store, "w", None)
        head = store.next_queued_task(w)
        assert head is not None and head["job_id"] != child
        store.set_job_status(p1, "completed", 0.0)
        assert store.release_children(p1) == []  # p2 still holds it
        store.set_job_status(p2, "failed", 0.0)
        assert store.release_children(p2) == []
        store.set_job_status(p2, "completed", 0.0)
        assert store.release_children(p2) == [child]
        head = store.next_queued_task(w)
        assert head is not None and head["id"] == child_task
    store.close()


def test_the_pulls_tag_and_waiting_checks_read_the_job_row_by_its_key(tmp_path: Path) -> None:
    """What this adds to the pull: the jobs to skip, read once from the partial index
    of restricted live jobs (never the jobs table whole); no table is scanned."""
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        for _ in range(50):
            _job(store, tags=["gpu"])
        w = _worker(store, "w", ["cpu"])
    store.conn.execute("ANALYZE")
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    store.next_queued_task(w)
    store.conn.set_trace_callback(None)
    assert len(seen) == 1, seen  # one statement: the worker's columns are subqueries of it
    plan = " ".join(str(r[-1]) for r in store.conn.execute("EXPLAIN QUERY PLAN " + seen[0]))
    assert "tasks_dispatch" in plan, plan
    assert "jobs USING INDEX jobs_restricted" in plan, plan
    assert not re.search(r"\bSCAN (j|jobs|workers)\b(?! USING INDEX jobs_restricted)", plan), plan
    store.close()
