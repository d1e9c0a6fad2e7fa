"""Dispatch (the pull, the held poll, the lease watch) over the in-memory fakes: no
SQLite. Held polls run on the test's real event loop, with waits of a fraction of a
second; the farm's clock (last_seen, started) is the fake one."""

from __future__ import annotations

import asyncio
import time

import pytest

from flamenco_gui.farm.errors import NotFound
from flamenco_gui.farm.states import TaskStatus, WorkerReport
from tests.farm.fakes import Farm, make_farm

A = WorkerReport.AVAILABLE
R = WorkerReport.RENDERING
OFF = WorkerReport.OFFLINE
T = TaskStatus


def _resume(f: Farm, task_id: int) -> None:
    """Queue a paused task, as the wrangler does."""
    with f.changes.change():
        f.states.move(f.store.state(task_id), T.QUEUED, "resumed", outcome="")


async def test_an_available_worker_is_leased_the_head_task() -> None:
    f = make_farm()
    low, high = f.store.add_job(priority=10), f.store.add_job(priority=90)
    f.store.add_task(low)
    head, second = f.store.add_task(high), f.store.add_task(high)
    a, b = f.store.add_worker("a", last_seen=0.0), f.store.add_worker("b")
    assert await f.dispatch.report(a, A, ip_address="10.0.0.2") == (head, 1)
    task = f.store.tasks[head]
    assert (task["status"], task["worker_id"], task["lease"]) == ("rendering", a, 1)
    w = f.store.workers[a]
    assert (w["current_task"], w["last_seen"], w["ip_address"]) == (head, f.clock.now, "10.0.0.2")
    assert f.store.history_of(head)[0]["worker_id"] == a
    assert await f.dispatch.report(b, A) == (second, 1)  # one task, one worker


async def test_a_disabled_worker_is_given_nothing() -> None:
    f = make_farm()
    task = f.store.add_task(f.store.add_job())
    off = f.store.add_worker("off", status="disabled", last_seen=0.0)
    assert await f.dispatch.report(off, A) == (None, None)
    assert f.store.tasks[task]["status"] == "queued"
    assert f.store.workers[off]["last_seen"] == f.clock.now  # its report still counts
    on = f.store.add_worker("on")
    assert await f.dispatch.report(on, A) == (task, 1)


async def test_an_available_report_requeues_what_the_worker_held() -> None:
    f = make_farm()
    job = f.store.add_job()
    held = f.store.add_task(job)
    w = f.store.add_worker()
    assert await f.dispatch.report(w, A) == (held, 1)
    # The worker says it runs nothing: its lease ends, and the task is leased afresh.
    assert await f.dispatch.report(w, A) == (held, 2)
    assert [(h["lease"], h["outcome"]) for h in f.store.history_of(held)] == [
        (1, "lost"),
        (2, None),
    ]
    assert f.store.tasks_leased_to(w) == [f.store.state(held)]


async def test_an_unknown_worker_is_not_found() -> None:
    f = make_farm()
    for status in (A, R, OFF):
        with pytest.raises(NotFound):
            await f.dispatch.report(99, status)


async def test_a_held_pull_is_woken_by_work_queued() -> None:
    f = make_farm()
    task = f.store.add_task(f.store.add_job(), status="paused")
    w = f.store.add_worker()
    poll = asyncio.create_task(f.dispatch.report(w, A, wait=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    start = time.monotonic()
    _resume(f, task)
    assert await asyncio.wait_for(poll, 2) == (task, 1)
    assert time.monotonic() - start < 0.5
    assert f.store.tasks[task]["worker_id"] == w


async def test_a_held_pull_answers_nothing_when_its_wait_runs_out() -> None:
    f = make_farm()
    w = f.store.add_worker()
    start = time.monotonic()
    assert await f.dispatch.report(w, A, wait=0.1) == (None, None)
    assert time.monotonic() - start >= 0.1


async def test_a_held_pull_is_capped_at_half_the_worker_timeout() -> None:
    f = make_farm(worker_timeout=0.2)
    w = f.store.add_worker()
    start = time.monotonic()
    assert await asyncio.wait_for(f.dispatch.report(w, A, wait=20), 2) == (None, None)
    assert time.monotonic() - start < 1.0


async def test_a_held_pull_of_a_disabled_worker_is_not_given_queued_work() -> None:
    f = make_farm()
    task = f.store.add_task(f.store.add_job(), status="paused")
    w = f.store.add_worker(status="disabled")
    poll = asyncio.create_task(f.dispatch.report(w, A, wait=0.3))
    await asyncio.sleep(0.05)
    _resume(f, task)
    assert await asyncio.wait_for(poll, 2) == (None, None)
    assert f.store.tasks[task]["status"] == "queued"


async def test_a_held_pull_ends_when_its_worker_signs_off() -> None:
    f = make_farm()
    w = f.store.add_worker()
    poll = asyncio.create_task(f.dispatch.report(w, A, wait=5))
    await asyncio.sleep(0.05)
    start = time.monotonic()
    assert await f.dispatch.report(w, OFF) == (None, None)
    assert await asyncio.wait_for(poll, 2) == (None, None)
    assert time.monotonic() - start < 0.5
    assert not f.wakeups.is_polling(w)


async def test_the_lease_watch_ends_when_the_lease_changes() -> None:
    f = make_farm()
    w = f.store.add_worker()
    task = f.store.add_task(f.store.add_job())
    assert await f.dispatch.report(w, A) == (task, 1)
    watch = asyncio.create_task(f.dispatch.report(w, R, task_id=task, wait=5))
    await asyncio.sleep(0.05)
    assert not watch.done()
    assert f.wakeups.is_polling(w)  # an open watch keeps the worker alive (timeouts)
    start = time.monotonic()
    with f.changes.change():  # the wrangler requeues it
        f.states.move(f.store.state(task), T.QUEUED, "by the wrangler", outcome="requeued")
    assert await asyncio.wait_for(watch, 2) == (None, None)  # the worker stops rendering
    assert time.monotonic() - start < 0.5
    assert not f.wakeups.is_polling(w)


async def test_the_lease_watch_confirms_an_unchanged_lease_when_its_wait_runs_out() -> None:
    f = make_farm()
    w = f.store.add_worker()
    task = f.store.add_task(f.store.add_job())
    assert await f.dispatch.report(w, A) == (task, 1)
    start = time.monotonic()
    assert await f.dispatch.report(w, R, task_id=task, wait=0.1) == (task, 1)
    assert time.monotonic() - start >= 0.1
    assert f.store.tasks[task]["status"] == "rendering"


async def test_a_rendering_report_on_a_lost_lease_answers_nothing_at_once() -> None:
    f = make_farm()
    w = f.store.add_worker()
    other = f.store.add_worker("other")
    task = f.store.add_task(f.store.add_job())
    assert await f.dispatch.report(other, A) == (task, 1)
    start = time.monotonic()
    assert await f.dispatch.report(w, R, task_id=task, wait=5) == (None, None)
    assert time.monotonic() - start < 0.5
    assert f.store.tasks[task]["worker_id"] == other


async def test_an_offline_report_requeues_the_workers_task() -> None:
    f = make_farm()
    w = f.store.add_worker()
    task = f.store.add_task(f.store.add_job())
    assert await f.dispatch.report(w, A) == (task, 1)
    queued = f.wakeups.queued_event()
    assert await f.dispatch.report(w, OFF) == (None, None)
    row = f.store.tasks[task]
    assert (row["status"], row["worker_id"]) == ("queued", None)
    [attempt] = f.store.history_of(task)
    assert (attempt["outcome"], attempt["reason"]) == ("lost", "worker signed off")
    worker = f.store.workers[w]
    assert (worker["connection"], worker["current_task"]) == ("offline", None)
    assert queued.is_set()  # other workers' held pulls hear of the task
    assert f.store.jobs[row["job_id"]]["status"] == "queued"


async def test_a_long_held_poll_counts_as_a_heartbeat() -> None:
    f = make_farm()
    w = f.store.add_worker()
    poll = asyncio.create_task(f.dispatch.report(w, A, wait=1.3))
    await asyncio.sleep(0.05)
    f.clock.advance(100)
    assert await poll == (None, None)
    assert f.store.workers[w]["last_seen"] == f.clock.now
