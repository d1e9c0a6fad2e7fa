"""The per-job blocklist over the in-memory fakes: no SQLite. Failures come in as the
farm sees them: a rendering task's attempt failed (`Retries.fail_attempt`), which
counts towards its worker's blocklisting."""

from __future__ import annotations

from typing import Any

from flamenco_gui.farm.states import WorkerReport
from tests.farm.fakes import Farm, make_farm

A = WorkerReport.AVAILABLE
NONE_LEFT = "no worker left that is not blocklisted on this job"


def _fail(f: Farm, job: int, worker: int) -> int:
    """A new task of `job` that `worker` rendered and failed: its id."""
    task = f.store.add_task(job)
    with f.changes.change():
        f.states.start(f.store.state(task), worker, {})
        f.retries.fail_attempt(f.store.state(task), "exit code 1")
    return task


def _farm(**config: Any) -> Farm:
    return make_farm(max_attempts=1, **config)


def test_a_worker_is_blocklisted_after_threshold_failures_of_one_job() -> None:
    f = _farm(blocklist_threshold=2)
    job = f.store.add_job()
    bad, good = f.store.add_worker("bad"), f.store.add_worker("good")
    _fail(f, job, bad)
    assert f.blocklist.entries(job) == []
    f.clock.advance(10)
    _fail(f, job, bad)
    [entry] = f.blocklist.entries(job)
    assert (entry["worker_id"], entry["hostname"]) == (bad, "bad")
    assert (entry["created"], entry["reason"]) == (f.clock.now, "failed 2 tasks of this job")
    assert good not in {e["worker_id"] for e in f.blocklist.entries(job)}


def test_failures_count_per_job() -> None:
    f = _farm(blocklist_threshold=2)
    one, two = f.store.add_job(), f.store.add_job()
    w = f.store.add_worker()
    f.store.add_worker("other")
    _fail(f, one, w)
    _fail(f, two, w)
    assert f.blocklist.entries(one) == f.blocklist.entries(two) == []
    _fail(f, two, w)
    assert f.blocklist.entries(one) == []
    assert [e["worker_id"] for e in f.blocklist.entries(two)] == [w]


async def test_a_blocklisted_worker_is_not_given_that_jobs_tasks() -> None:
    f = _farm(blocklist_threshold=1)
    job, other_job = f.store.add_job(priority=90), f.store.add_job(priority=10)
    bad, good = f.store.add_worker("bad"), f.store.add_worker("good")
    _fail(f, job, bad)
    waiting = f.store.add_task(job)
    elsewhere = f.store.add_task(other_job)
    assert await f.dispatch.report(bad, A) == (elsewhere, 1)
    assert await f.dispatch.report(good, A) == (waiting, 1)


def test_when_no_eligible_worker_is_left_the_jobs_queued_tasks_fail() -> None:
    f = _farm(blocklist_threshold=1)
    job, other_job = f.store.add_job(), f.store.add_job()
    w = f.store.add_worker()
    f.store.add_worker("gone", connection="offline")  # neither counts as eligible
    f.store.add_worker("off", status="disabled")
    queued = [f.store.add_task(job) for _ in range(3)]
    paused = f.store.add_task(job, status="paused")
    elsewhere = f.store.add_task(other_job)
    failed = _fail(f, job, w)
    assert f.store.tasks[failed]["status"] == "failed"
    for task in queued:
        row = f.store.tasks[task]
        assert (row["status"], row["error"]) == ("failed", NONE_LEFT)
    assert f.store.tasks[paused]["status"] == "paused"  # only what waits to run
    assert f.store.tasks[elsewhere]["status"] == "queued"
    assert f.store.jobs[job]["status"] == "paused"
    assert f.store.jobs[other_job]["status"] == "queued"


def test_the_queued_tasks_stay_while_another_worker_may_run_them() -> None:
    f = _farm(blocklist_threshold=1)
    job = f.store.add_job()
    w = f.store.add_worker()
    f.store.add_worker("other")
    queued = [f.store.add_task(job) for _ in range(2)]
    _fail(f, job, w)
    assert [e["worker_id"] for e in f.blocklist.entries(job)] == [w]
    assert [f.store.tasks[t]["status"] for t in queued] == ["queued", "queued"]


def test_the_failed_retry_of_the_last_eligible_worker_fails_the_job() -> None:
    """A retried task (not yet at max_attempts) is queued again, then failed with the
    rest when its worker was the last one that could run the job."""
    f = make_farm(max_attempts=3, blocklist_threshold=1)
    job = f.store.add_job()
    w = f.store.add_worker()
    task = _fail(f, job, w)
    row = f.store.tasks[task]
    assert (row["status"], row["attempts"], row["error"]) == ("failed", 1, NONE_LEFT)
    assert f.store.jobs[job]["status"] == "failed"


def test_clear_removes_one_workers_entry_or_all_of_them() -> None:
    f = _farm(blocklist_threshold=1)
    job, other_job = f.store.add_job(), f.store.add_job()
    a, b = f.store.add_worker("a"), f.store.add_worker("b")
    f.store.add_worker("spare")
    for worker in (a, b):
        _fail(f, job, worker)
    _fail(f, other_job, a)
    assert {e["worker_id"] for e in f.blocklist.entries(job)} == {a, b}
    f.events.clear()
    with f.changes.change():
        f.blocklist.clear(job, a)
    assert [e["worker_id"] for e in f.blocklist.entries(job)] == [b]
    assert [c.id for c in f.events.of("job")] == [job]
    with f.changes.change():
        f.blocklist.clear(job, None)
    assert f.blocklist.entries(job) == []
    assert [e["worker_id"] for e in f.blocklist.entries(other_job)] == [a]


async def test_a_cleared_worker_is_given_the_jobs_tasks_again() -> None:
    f = _farm(blocklist_threshold=1)
    job = f.store.add_job()
    w = f.store.add_worker()
    f.store.add_worker("other")
    _fail(f, job, w)
    waiting = f.store.add_task(job)
    assert await f.dispatch.report(w, A) == (None, None)
    with f.changes.change():
        f.blocklist.clear(job, w)
    assert await f.dispatch.report(w, A) == (waiting, 1)


def test_a_cleared_worker_gets_a_fresh_count() -> None:
    f = _farm(blocklist_threshold=2)
    job = f.store.add_job()
    w = f.store.add_worker()
    f.store.add_worker("other")
    for _ in range(2):
        _fail(f, job, w)
    assert [e["worker_id"] for e in f.blocklist.entries(job)] == [w]
    with f.changes.change():
        f.blocklist.clear(job, w)
    _fail(f, job, w)  # one failure since the clear, of the two that blocklist
    assert f.blocklist.entries(job) == []
