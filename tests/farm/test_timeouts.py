"""The timeout checker over the in-memory fakes: no SQLite, and no waiting (the farm's
clock is advanced by hand)."""

from __future__ import annotations

import asyncio

from flamenco_gui.farm.states import WorkerReport
from tests.farm.fakes import Farm, make_farm

A = WorkerReport.AVAILABLE


async def _claimed(f: Farm, hostname: str = "w") -> tuple[int, int]:
    """A worker that reports now and is leased the head task: (worker, task)."""
    worker = f.store.add_worker(hostname)
    task, _ = await f.dispatch.report(worker, A)
    assert task is not None
    return worker, task


async def test_a_silent_worker_goes_offline_and_its_task_is_requeued() -> None:
    f = make_farm(worker_timeout=60)
    f.store.add_task(f.store.add_job())
    worker, task = await _claimed(f)
    watcher = f.wakeups.lease_event(worker)
    f.clock.advance(59)
    f.timeouts.check()
    # Silent past unresponsive_after: said at once, but it keeps its task until the timeout.
    assert f.store.workers[worker]["connection"] == "unresponsive"
    assert f.store.tasks[task]["status"] == "rendering"
    f.clock.advance(2)
    f.timeouts.check()
    w = f.store.workers[worker]
    assert (w["connection"], w["current_task"]) == ("offline", None)
    row = f.store.tasks[task]
    assert (row["status"], row["worker_id"], row["attempts"]) == ("queued", None, 0)
    [attempt] = f.store.history_of(task)
    assert attempt["outcome"] == "lost"
    assert attempt["reason"].startswith("worker w stopped answering at ")
    assert attempt["reason"].endswith("; requeued")
    assert attempt["ended"] == f.clock.now
    assert watcher.is_set()
    assert [c.row["connection"] for c in f.events.of("worker") if c.row][-1] == "offline"


async def test_a_worker_that_keeps_reporting_stays_online() -> None:
    f = make_farm(worker_timeout=60)
    worker = f.store.add_worker()
    for _ in range(3):
        f.clock.advance(40)
        await f.dispatch.report(worker, A)
        f.timeouts.check()
    assert f.store.workers[worker]["connection"] == "online"


async def test_a_worker_with_a_held_poll_open_is_spared() -> None:
    f = make_farm(worker_timeout=60)
    worker = f.store.add_worker()
    poll = asyncio.create_task(f.dispatch.report(worker, A, wait=0.3))
    await asyncio.sleep(0.05)
    f.clock.advance(61)
    f.timeouts.check()
    assert f.store.workers[worker]["connection"] == "online"  # quiet, but alive
    assert await poll == (None, None)
    f.timeouts.check()  # it was there until its poll answered: silent only from then
    assert f.store.workers[worker]["connection"] == "online"
    f.clock.advance(61)
    f.timeouts.check()  # and it has said nothing since
    assert f.store.workers[worker]["connection"] == "offline"


async def test_a_hung_task_fails_its_attempt_and_is_retried_until_max_attempts() -> None:
    f = make_farm(worker_timeout=86_400, task_timeout=100, max_attempts=2)
    job = f.store.add_job()
    f.store.add_task(job)
    a, task = await _claimed(f, "a")
    f.clock.advance(101)
    await f.dispatch.report(a, WorkerReport.RENDERING, task_id=task)  # its heartbeat: alive
    f.timeouts.check()
    row = f.store.tasks[task]
    assert (row["status"], row["attempts"], row["worker_id"]) == ("queued", 1, None)
    [first] = f.store.history_of(task)
    assert first["outcome"] == "failed"
    assert (
        first["reason"]
        == "no output or progress for 100 s; the render was stopped (attempt 1 of 2)"
    )
    assert f.store.workers[a]["current_task"] is None
    assert f.store.workers[a]["connection"] == "online"  # the worker is fine; the task hung

    b, again = await _claimed(f, "b")  # the retry goes to another worker
    assert again == task
    f.clock.advance(101)
    f.timeouts.check()
    row = f.store.tasks[task]
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert row["error"] == "no output or progress for 100 s; the render was stopped"
    assert [h["worker_id"] for h in f.store.history_of(task)] == [a, b]
    assert f.store.jobs[job]["status"] == "failed"


async def test_a_task_that_shows_progress_is_not_hung() -> None:
    f = make_farm(worker_timeout=86_400, task_timeout=100)
    f.store.add_task(f.store.add_job())
    _, task = await _claimed(f)
    for _ in range(3):
        f.clock.advance(60)
        f.store.update_task(task, {"last_progress": f.clock.now})  # output came in
        f.timeouts.check()
    row = f.store.tasks[task]
    assert (row["status"], row["attempts"]) == ("rendering", 0)


async def test_a_silent_workers_task_is_lost_not_failed() -> None:
    """Both timeouts at once: the worker's goes first, so the attempt is not counted."""
    f = make_farm(worker_timeout=60, task_timeout=60, max_attempts=1)
    f.store.add_task(f.store.add_job())
    _, task = await _claimed(f)
    f.clock.advance(100)
    f.timeouts.check()
    row = f.store.tasks[task]
    assert (row["status"], row["attempts"]) == ("queued", 0)
    assert f.store.history_of(task)[0]["outcome"] == "lost"
