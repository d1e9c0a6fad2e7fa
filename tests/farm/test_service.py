"""FarmService rules on a real SQLite file, without HTTP or Qt."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from flamenco_gui.farm.errors import Conflict
from flamenco_gui.farm.events import Change
from flamenco_gui.farm.service import FarmConfig, FarmService
from flamenco_gui.farm.states import TaskStatus, WorkerReport
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.task_logs import TaskLogs

A = WorkerReport.AVAILABLE


def _service(tmp_path: Path, **config: float) -> FarmService:
    return FarmService(
        Store(tmp_path / "farm.sqlite"),
        TaskLogs(tmp_path / "logs"),
        Previews(tmp_path / "previews"),
        FarmConfig(**config),
    )


def _job(service: FarmService, frames: int, priority: int = 50, chunk: int = 1) -> dict:
    settings = {"argv": ["echo", "{frame}"], "frame_start": 1, "frame_end": frames}
    return service.create_job(
        name="j", type="command", settings=settings, priority=priority, chunk_size=chunk
    )


async def test_dispatch_order_and_one_task_per_worker(tmp_path: Path) -> None:
    s = _service(tmp_path)
    low = _job(s, 2, priority=10)
    high = _job(s, 2, priority=90)
    w1 = s.register_worker("a", "Linux")[0]["id"]
    w2 = s.register_worker("b", "Linux")[0]["id"]
    t1, _ = await s.worker_report(w1, A)
    t2, _ = await s.worker_report(w2, A)
    assert {s.get_task(t1)["job_id"], s.get_task(t2)["job_id"]} == {high["id"]}
    assert t1 < t2  # oldest first within a job
    # Asking again while holding a task: the held one is requeued, never a second lease.
    t3, _ = await s.worker_report(w1, A)
    assert [t["id"] for t in s.store.tasks_leased_to(w1)] == [t3]
    assert s.get_job(low["id"])["task_counts"] == {"queued": 2}


async def test_events_follow_every_change(tmp_path: Path) -> None:
    s = _service(tmp_path)
    seen: list[Change] = []
    s.events.subscribe(seen.append)
    job = _job(s, 3)
    assert sorted(c.kind for c in seen) == ["job", "task", "task", "task"]
    w = s.register_worker("a", "Linux")[0]["id"]
    seen.clear()
    task_id, lease = await s.worker_report(w, A)
    s.update_task(task_id, {"status": "completed", "lease": lease}, w)
    task_changes = [c.row["status"] for c in seen if c.kind == "task" and c.id == task_id]
    assert task_changes[-1] == "completed" and "rendering" in task_changes
    assert [c.row["status"] for c in seen if c.kind == "job"][-1] == "rendering"
    assert s.get_job(job["id"])["progress"] == pytest.approx(33.3)


async def test_worker_timeout_requeues_its_task(tmp_path: Path) -> None:
    s = _service(tmp_path, worker_timeout=0.2)
    _job(s, 1)
    w = s.register_worker("a", "Linux")[0]["id"]
    task_id, _ = await s.worker_report(w, A)
    await asyncio.sleep(0.3)
    s.check_timeouts()
    assert s.get_worker(w)["connection"] == "offline"
    task = s.get_task(task_id)
    assert task["status"] == "queued" and task["worker_id"] is None
    reason = s.task_history(task_id)[-1]["reason"]
    assert re.fullmatch(r"worker a stopped answering at \d\d:\d\d:\d\d; requeued", reason)
    text, _ = s.read_log(task_id)
    assert reason in text.decode()  # the task's log says why, too


async def test_a_quiet_worker_is_unresponsive_then_online_again(tmp_path: Path) -> None:
    s = _service(tmp_path, worker_timeout=2.0, unresponsive_after=0.2)
    w = s.register_worker("a", "Linux")[0]["id"]
    await s.worker_report(w, A)
    s.check_timeouts()
    assert s.get_worker(w)["connection"] == "online"
    await asyncio.sleep(0.3)
    s.check_timeouts()
    assert s.get_worker(w)["connection"] == "unresponsive"
    await s.worker_report(w, A)  # it speaks again
    assert s.get_worker(w)["connection"] == "online"


async def test_hung_task_fails_an_attempt_then_the_task(tmp_path: Path) -> None:
    s = _service(tmp_path, task_timeout=0.1, max_attempts=2)
    _job(s, 1)
    workers = [s.register_worker(n, "Linux")[0]["id"] for n in ("a", "b")]
    for w in workers:
        task_id, _ = await s.worker_report(w, A)
        assert task_id is not None
        time.sleep(0.15)
        s.check_timeouts()
    task = s.get_task(task_id)
    assert task["status"] == "failed" and task["attempts"] == 2
    assert "no output or progress" in task["error"]
    assert "no output or progress" in s.read_log(task_id)[0].decode()  # its log says why


async def test_stale_lease_is_refused(tmp_path: Path) -> None:
    s = _service(tmp_path)
    _job(s, 1)
    w1 = s.register_worker("a", "Linux")[0]["id"]
    w2 = s.register_worker("b", "Linux")[0]["id"]
    task_id, old_lease = await s.worker_report(w1, A)
    s.set_task_status(task_id, TaskStatus.QUEUED)
    again, new_lease = await s.worker_report(w2, A)
    assert again == task_id and new_lease == old_lease + 1
    with pytest.raises(Conflict):
        s.update_task(task_id, {"status": "completed", "lease": old_lease}, w1)
    s.update_task(task_id, {"status": "completed", "lease": new_lease}, w2)
    assert s.get_task(task_id)["worker_id"] == w2


async def test_long_poll_wakes_when_work_arrives(tmp_path: Path) -> None:
    s = _service(tmp_path)
    w = s.register_worker("a", "Linux")[0]["id"]
    poll = asyncio.create_task(s.worker_report(w, A, wait=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    start = time.monotonic()
    _job(s, 1)
    task_id, _ = await asyncio.wait_for(poll, 2)
    assert task_id is not None and time.monotonic() - start < 0.2


async def test_failing_job_blocklists_workers_and_ends_failed(tmp_path: Path) -> None:
    s = _service(tmp_path, max_attempts=3, blocklist_threshold=2)
    bad = _job(s, 4)
    workers = [s.register_worker(n, "Linux")[0]["id"] for n in ("a", "b")]
    for _ in range(20):  # bounded: each round every worker fails what it is given
        for w in workers:
            task_id, lease = await s.worker_report(w, A)
            if task_id is not None:
                s.update_task(task_id, {"status": "failed", "lease": lease, "error": "boom"}, w)
    job = s.get_job(bad["id"])
    assert job["status"] == "failed"
    assert job["task_counts"] == {"failed": 4}
    assert {b["worker_id"] for b in s.job_blocklist(bad["id"])} == set(workers)
    # A retry went to the other worker before coming back to the first.
    first = s.task_history(1)
    assert first[0]["worker_id"] != first[1]["worker_id"]
    assert s.clear_blocklist(bad["id"]) == []


async def test_a_video_step_waits_for_every_frame_and_is_canceled_if_one_fails(
    tmp_path: Path,
) -> None:
    s = _service(tmp_path, max_attempts=1)
    settings = {
        "filepath": "/p/s.blend", "render_output": "/r/f_####", "frame_start": 1, "frame_end": 4,
        "video": {"output": "/r/s.mp4"},
    }  # fmt: skip
    job = s.create_job(name="v", type="blender_render", settings=settings, priority=1, chunk_size=2)
    tasks = s.list_tasks(job_id=job["id"])[0]
    assert [t["type"] for t in tasks] == ["blender_render", "blender_render", "ffmpeg"]
    video = tasks[-1]
    assert s.task_dependencies(video["id"]) == [tasks[0]["id"], tasks[1]["id"]]
    w = s.register_worker("a", "Linux")[0]["id"]
    first, lease = await s.worker_report(w, A)
    s.update_task(first, {"status": "completed", "lease": lease}, w)
    second, lease = await s.worker_report(w, A)
    assert second == tasks[1]["id"]
    # The video cannot start while a frame task is still running.
    b = s.register_worker("b", "Linux")[0]["id"]
    assert (await s.worker_report(b, A)) == (None, None)
    s.update_task(second, {"status": "failed", "lease": lease, "error": "boom"}, w)
    assert s.get_task(video["id"])["status"] == "canceled"
    assert "waits for, was failed" in s.get_task(video["id"])["error"]
    assert s.get_job(job["id"])["status"] == "failed"
    # Requeue the failures: the retry goes to the other worker, then the video runs.
    await s.job_action(job["id"], "requeue_failed")
    assert (await s.worker_report(w, A)) == (None, None)
    second, lease = await s.worker_report(b, A)
    s.update_task(second, {"status": "completed", "lease": lease}, b)
    assert (await s.worker_report(w, A))[0] == video["id"]


async def test_preview_first_renders_every_nth_chunk_first(tmp_path: Path) -> None:
    s = _service(tmp_path)
    settings = {"argv": ["echo", "{frame}"], "frame_start": 1, "frame_end": 10}
    s.create_job(
        name="p", type="command", settings=settings, priority=1, chunk_size=1, preview_first=4
    )
    w = s.register_worker("a", "Linux")[0]["id"]
    order = []
    for _ in range(10):
        task_id, lease = await s.worker_report(w, A)
        order.append(s.get_task(task_id)["frame_start"])
        s.update_task(task_id, {"status": "completed", "lease": lease}, w)
    assert order == [1, 5, 9, 2, 3, 4, 6, 7, 8, 10]


async def test_a_claim_whose_answer_was_not_delivered_goes_back_at_once(tmp_path: Path) -> None:
    """The API calls release_claim when a pull's answer cannot be written (the client
    closed first): the task is queued again now, not at the worker timeout; a release
    of a lease that has moved on changes nothing."""
    s = _service(tmp_path)
    _job(s, 1)
    w = s.register_worker("a", "Linux")[0]["id"]
    task_id, lease = await s.worker_report(w, A)
    assert task_id is not None and lease is not None
    s.release_claim(w, task_id, lease + 1, "stale")
    assert s.get_task(task_id)["status"] == "rendering"
    s.release_claim(w, task_id, lease, "the pull's connection closed before the answer")
    task = s.get_task(task_id)
    assert task["status"] == "queued" and task["worker_id"] is None
    assert s.task_history(task_id)[-1]["reason"] == "the pull's connection closed before the answer"


async def test_each_status_of_a_job_action_starts_at_the_first_slice_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A requeue walks completed, failed, canceled and paused tasks one status after
    another: a status with two tasks (a slice in microseconds) must not size the next
    status's first slice at the most (its thousands of rows then held the loop 138 ms,
    bench/bulk.py)."""
    from flamenco_gui.farm import jobs

    s = _service(tmp_path)
    job = _job(s, 1200)
    w = s.register_worker("a", "Linux")[0]["id"]
    for _ in range(2):
        task_id, lease = await s.worker_report(w, A)
        s.update_task(task_id, {"status": "completed", "lease": lease}, w)
    await s.job_action(job["id"], "cancel")
    asked: list[tuple[str, int]] = []
    real = s.store.job_task_slice

    def job_task_slice(job_id: int, status: str, limit: int, after: int = 0) -> list:
        asked.append((status, limit))
        return real(job_id, status, limit, after)

    monkeypatch.setattr(s.store, "job_task_slice", job_task_slice)
    await s.job_action(job["id"], "requeue")
    first = {status: limit for status, limit in reversed(asked)}
    assert first["completed"] == first["canceled"] == jobs.SLICE
    assert s.get_job(job["id"])["task_counts"] == {"queued": 1200}


async def test_a_deleted_jobs_summary_is_read_in_slices_and_adds_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history row a deleted job leaves sums its attempts a slice of tasks at a
    time, the loop running between (the whole join held it ~100 ms at 100,000 tasks),
    and the slices add up to what one query over the whole job gives."""
    from flamenco_gui.farm import frames

    monkeypatch.setattr(frames, "SUMMARY_SLICE", 50)
    s = _service(tmp_path, max_attempts=3)
    job = _job(s, 300)
    w = s.register_worker("a", "Linux")[0]["id"]
    for n in range(6):
        task_id, lease = await s.worker_report(w, A)
        status = "failed" if n % 3 == 0 else "completed"
        s.update_task(task_id, {"status": status, "lease": lease, "error": "x"}, w)
    await s.job_action(job["id"], "cancel")
    whole = s.store.conn.execute(
        "SELECT min(h.started), max(h.ended), sum(h.ended - h.started),"
        " sum(h.outcome = 'failed') FROM tasks t JOIN task_history h ON h.task_id = t.id"
        " WHERE t.job_id = ?",
        (job["id"],),
    ).fetchone()
    turns = 0

    async def tick() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    ticker = asyncio.ensure_future(tick())
    summary = await s.frames.summary(job["id"])
    ticker.cancel()
    # The ticker's first turn only starts it: turns = the summary's yields - 1, and
    # there are at least three (the completed tasks one slice, the canceled two).
    assert turns >= 2
    assert (summary["first_started"], summary["last_finished"]) == (whole[0], whole[1])
    assert summary["node_seconds"] == pytest.approx(whole[2])
    assert summary["failures"] == whole[3] == 2 and summary["tasks"] == 300
    await s.delete_job(job["id"])
    (kept,) = s.farm_history(0)
    assert (kept["tasks"], kept["failures"], kept["job_id"]) == (300, 2, job["id"])
