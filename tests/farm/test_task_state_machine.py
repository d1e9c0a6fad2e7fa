"""The task state machine over the in-memory fakes (tests/farm/fakes.py): no SQLite."""

from __future__ import annotations

import pytest

from flamenco_gui.farm.errors import Conflict
from flamenco_gui.farm.events import Change
from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.farm.task_state_machine import SLICE
from flamenco_gui.rows import Fields
from tests.farm.fakes import Farm, make_farm

T = TaskStatus


def _move(f: Farm, task_id: int, new: TaskStatus, reason: str = "why", outcome: str = "x") -> None:
    with f.changes.change():
        f.states.move(f.store.state(task_id), new, reason, outcome=outcome)


def _rendering(f: Farm, job_id: int | None = None, hostname: str = "w") -> tuple[int, int]:
    """A task leased to a new worker: (task id, worker id)."""
    worker = f.store.add_worker(hostname)
    task = f.store.add_task(job_id)
    with f.changes.change():
        f.states.start(f.store.state(task), worker, {})
    return task, worker


def _bulk(f: Farm) -> list[Change]:
    return f.events.of("tasks")


# -- one task ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (T.COMPLETED, T.FAILED),
        (T.CANCELED, T.COMPLETED),  # a stale worker cannot complete a canceled task
        (T.QUEUED, T.COMPLETED),
        (T.PAUSED, T.RENDERING),
        (T.FAILED, T.PAUSED),
    ],
)
def test_a_forbidden_move_is_a_conflict_and_changes_nothing(old: T, new: T) -> None:
    f = make_farm()
    job = f.store.add_job()
    task = f.store.add_task(job, status=old.value)
    before = dict(f.store.tasks[task])
    with pytest.raises(Conflict, match=f"from {old} to {new}"):
        _move(f, task, new)
    assert f.store.tasks[task] == before
    assert f.events.changes == []  # nothing published of a change that raised


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (T.QUEUED, T.PAUSED),
        (T.QUEUED, T.CANCELED),
        (T.PAUSED, T.QUEUED),
        (T.FAILED, T.QUEUED),
        (T.CANCELED, T.QUEUED),
        (T.COMPLETED, T.QUEUED),
    ],
)
def test_an_allowed_move_sets_the_status_and_publishes_it(old: T, new: T) -> None:
    f = make_farm()
    job = f.store.add_job()
    task = f.store.add_task(job, status=old.value)
    _move(f, task, new)
    assert f.store.tasks[task]["status"] == new
    assert f.store.tasks[task]["updated"] == f.clock.now
    [change] = f.events.of("task")
    assert change.id == task and change.row is not None and change.row["status"] == new
    assert [c.id for c in f.events.of("job")] == [job]
    assert f.tx.commits == 1


def test_moving_to_the_same_status_does_nothing() -> None:
    f = make_farm()
    task = f.store.add_task(None, status="paused")
    _move(f, task, T.PAUSED)
    assert f.store.tasks[task]["updated"] is None
    assert f.events.changes == []


@pytest.mark.parametrize("new", [T.COMPLETED, T.FAILED, T.QUEUED, T.CANCELED, T.PAUSED])
def test_moving_a_rendering_task_ends_its_attempt_and_frees_its_worker(new: T) -> None:
    f = make_farm()
    task, worker = _rendering(f, f.store.add_job())
    watcher = f.wakeups.lease_event(worker)  # a held rendering poll waits on this
    f.clock.advance(30)
    f.events.clear()
    _move(f, task, new, "the reason", outcome="the outcome")
    [attempt] = f.store.history_of(task)
    assert (attempt["ended"], attempt["outcome"], attempt["reason"]) == (
        f.clock.now,
        "the outcome",
        "the reason",
    )
    w = f.store.workers[worker]
    assert w["current_task"] is None and w["activity"] is None
    assert watcher.is_set()
    assert worker in [c.id for c in f.events.of("worker")]
    assert f.store.tasks[task]["status"] == new


def test_moving_an_idle_task_touches_no_attempt_or_worker() -> None:
    f = make_farm()
    worker = f.store.add_worker(current_task=None)
    task = f.store.add_task(None, status="failed", worker_id=worker, lease=1)
    f.store.history.append(
        {"id": 1, "task_id": task, "worker_id": worker, "lease": 1, "started": 1.0}
        | {"ended": 2.0, "outcome": "failed", "reason": "boom"}
    )
    watcher = f.wakeups.lease_event(worker)
    _move(f, task, T.CANCELED, "gone", outcome="canceled")
    assert f.store.history_of(task)[0]["outcome"] == "failed"
    assert not watcher.is_set()
    assert f.events.of("worker") == []


def test_completing_sets_progress_frames_and_finished() -> None:
    f = make_farm()
    task, _ = _rendering(f)
    f.store.update_task(task, {"frame_end": 9, "progress": 40.0})
    f.clock.advance(5)
    _move(f, task, T.COMPLETED)
    row = f.store.tasks[task]
    assert (row["progress"], row["frame_current"], row["finished"]) == (100.0, 9, f.clock.now)


@pytest.mark.parametrize("new", [T.FAILED, T.CANCELED])
def test_an_ending_records_why_beside_the_task(new: T) -> None:
    f = make_farm()
    task, _ = _rendering(f)
    _move(f, task, new, "exit code 1")
    assert f.store.tasks[task]["error"] == "exit code 1"
    assert f.store.tasks[task]["finished"] == f.clock.now


def test_requeue_from_rendering_keeps_attempts_progress_and_error() -> None:
    f = make_farm()
    task, _ = _rendering(f)
    f.store.update_task(task, {"attempts": 1, "progress": 40.0, "error": "attempt 1 failed"})
    queued = f.wakeups.queued_event()  # a held pull waits on this
    _move(f, task, T.QUEUED)
    row = f.store.tasks[task]
    assert row["status"] == "queued"
    assert (row["worker_id"], row["finished"]) == (None, None)
    assert (row["attempts"], row["progress"], row["error"]) == (1, 40.0, "attempt 1 failed")
    assert row["lease"] == 1  # the next claim takes lease 2: the old one is stale
    assert queued.is_set()


@pytest.mark.parametrize("old", [T.FAILED, T.CANCELED, T.COMPLETED, T.PAUSED])
def test_requeue_from_an_idle_status_starts_afresh(old: T) -> None:
    f = make_farm()
    task = f.store.add_task(
        None, status=old.value, worker_id=7, attempts=3, progress=50.0, error="boom", finished=1.0
    )
    queued = f.wakeups.queued_event()
    _move(f, task, T.QUEUED)
    row = f.store.tasks[task]
    assert (row["worker_id"], row["finished"]) == (None, None)
    assert (row["attempts"], row["progress"], row["error"]) == (0, 0.0, None)
    assert queued.is_set()


@pytest.mark.parametrize("new", [T.FAILED, T.CANCELED])
def test_an_ending_cancels_what_waits_for_it_transitively(new: T) -> None:
    f = make_farm()
    job, other_job = f.store.add_job(), f.store.add_job()
    frame = f.store.add_task(job)
    video = f.store.add_task(job, waits_for=[frame])
    upload = f.store.add_task(job, waits_for=[video])
    done = f.store.add_task(job, status="completed", waits_for=[frame])
    elsewhere = f.store.add_task(other_job, waits_for=[frame])
    free = f.store.add_task(job)
    _move(f, frame, new, "boom")
    status = {t: f.store.tasks[t]["status"] for t in (video, upload, elsewhere, done, free)}
    assert status == {
        video: "canceled",
        upload: "canceled",
        elsewhere: "canceled",
        done: "completed",
        free: "queued",
    }
    assert f.store.tasks[video]["error"] == f"task {frame}, which it waits for, was {new}"
    assert f.store.tasks[upload]["error"] == "tasks it waits for were canceled"
    announced = {(c.id, i) for c in _bulk(f) if c.row for i in c.row["ids"]}
    assert announced == {(job, video), (job, upload), (other_job, elsewhere)}
    assert f.store.jobs[other_job]["status"] == "canceled"


def test_pausing_leaves_what_waits_for_it_queued() -> None:
    f = make_farm()
    frame = f.store.add_task(None)
    video = f.store.add_task(None, waits_for=[frame])
    _move(f, frame, T.PAUSED)
    assert f.store.tasks[video]["status"] == "queued"


def test_start_leases_the_task_to_the_worker() -> None:
    f = make_farm()
    job = f.store.add_job()
    task = f.store.add_task(job, lease=2, frame_start=11, frame_end=20, error="old")
    worker = f.store.add_worker()
    with f.changes.change():
        lease = f.states.start(f.store.state(task), worker, {"ip_address": "10.0.0.9"})
        assert f.events.changes == []  # heard of only after the commit
    assert lease == 3
    row = f.store.tasks[task]
    assert (row["status"], row["worker_id"], row["lease"]) == ("rendering", worker, 3)
    now = f.clock.now
    assert (row["started"], row["last_progress"], row["frame_current"]) == (now, now, 11)
    assert (row["progress"], row["error"]) == (0.0, None)
    [attempt] = f.store.history_of(task)
    assert (attempt["worker_id"], attempt["lease"], attempt["started"]) == (worker, 3, now)
    assert attempt["ended"] is None
    w = f.store.workers[worker]
    assert (w["current_task"], w["ip_address"]) == (task, "10.0.0.9")
    assert f.store.jobs[job]["status"] == "rendering"
    assert {(c.kind, c.id) for c in f.events.changes} == {
        ("task", task),
        ("worker", worker),
        ("job", job),
    }


# -- the job's status --------------------------------------------------------------------


def test_the_job_status_follows_its_task_counts() -> None:
    f = make_farm()
    job = f.store.add_job()
    first, second = f.store.add_task(job), f.store.add_task(job)
    seen = []
    for task, new in [
        (first, T.PAUSED),
        (second, T.PAUSED),
        (first, T.QUEUED),
        (first, T.CANCELED),
        (second, T.CANCELED),
        (second, T.QUEUED),
    ]:
        _move(f, task, new)
        seen.append(f.store.jobs[job]["status"])
    assert seen == ["queued", "paused", "queued", "paused", "canceled", "queued"]
    assert [c.row["status"] for c in f.events.of("job") if c.row] == seen


def test_the_job_status_is_written_only_when_it_changes() -> None:
    f = make_farm()
    job = f.store.add_job()
    f.store.add_task(job, status="paused")
    with f.changes.change():
        f.states.refresh_job(job)
    assert f.store.jobs[job]["updated"] == f.clock.now
    f.clock.advance(10)
    with f.changes.change():
        f.states.refresh_job(job)
    assert f.store.jobs[job]["updated"] == f.clock.now - 10
    assert len(f.events.of("job")) == 2  # still announced


def test_refreshing_an_unknown_job_does_nothing() -> None:
    f = make_farm()
    with f.changes.change():
        f.states.refresh_job(42)
    assert f.events.changes == []


# -- a slice of a job's tasks ------------------------------------------------------------


def _slice(f: Farm, job: int, source: T, new: T, after: int = 0, limit: int = 2) -> int | None:
    with f.changes.change():
        return f.states.move_slice(job, source, new, "job action", after=after, limit=limit)


def test_a_slice_of_idle_tasks_moves_in_one_statement_and_one_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    f = make_farm()
    job = f.store.add_job()
    ids = [f.store.add_task(job) for _ in range(5)]
    statements: list[list[int]] = []
    move_tasks = f.store.move_tasks

    def spy(task_ids: list[int], fields: Fields) -> None:
        statements.append(list(task_ids))
        move_tasks(task_ids, fields)

    monkeypatch.setattr(f.store, "move_tasks", spy)
    assert _slice(f, job, T.QUEUED, T.PAUSED, limit=3) == ids[2]
    assert statements == [ids[:3]]
    assert [f.store.tasks[t]["status"] for t in ids] == ["paused"] * 3 + ["queued"] * 2
    [bulk] = _bulk(f)
    assert bulk.id == job and bulk.row is not None
    assert bulk.row["ids"] == ids[:3]
    assert bulk.row["fields"]["status"] == "paused"
    assert f.events.of("task") == []  # announced as the one set, not task by task
    assert [c.id for c in f.events.of("job")] == [job]  # its figures changed


def test_a_slice_of_rendering_tasks_moves_them_one_by_one() -> None:
    f = make_farm()
    job = f.store.add_job()
    a, wa = _rendering(f, job, "a")
    b, wb = _rendering(f, job, "b")
    watchers = [f.wakeups.lease_event(wa), f.wakeups.lease_event(wb)]
    f.events.clear()
    assert _slice(f, job, T.RENDERING, T.QUEUED) == b
    assert all(ev.is_set() for ev in watchers)
    assert [f.store.workers[w]["current_task"] for w in (wa, wb)] == [None, None]
    assert [f.store.history_of(t)[0]["outcome"] for t in (a, b)] == ["queued", "queued"]
    assert [f.store.tasks[t]["worker_id"] for t in (a, b)] == [None, None]
    assert {c.id for c in f.events.of("task")} == {a, b}
    assert _bulk(f) == []


def test_a_slice_walks_by_id_and_ends_with_none() -> None:
    f = make_farm()
    job = f.store.add_job()
    ids = [f.store.add_task(job) for _ in range(3)]
    other = f.store.add_task(f.store.add_job())
    assert _slice(f, job, T.QUEUED, T.CANCELED) == ids[1]
    assert _slice(f, job, T.QUEUED, T.CANCELED, after=ids[1]) == ids[2]
    assert _slice(f, job, T.QUEUED, T.CANCELED, after=ids[2]) is None
    assert all(f.store.tasks[t]["status"] == "canceled" for t in ids)
    assert f.store.tasks[other]["status"] == "queued"
    assert [len(c.row["ids"]) for c in _bulk(f) if c.row] == [2, 1]


def test_a_slice_visits_a_task_once_even_if_it_comes_back() -> None:
    f = make_farm()
    job = f.store.add_job()
    ids = [f.store.add_task(job) for _ in range(4)]
    after = _slice(f, job, T.QUEUED, T.PAUSED)
    assert after == ids[1]
    _move(f, ids[0], T.QUEUED)  # resumed meanwhile: back in the slice's source status
    assert _slice(f, job, T.QUEUED, T.PAUSED, after=after) == ids[3]
    assert _slice(f, job, T.QUEUED, T.PAUSED, after=ids[3]) is None
    assert [f.store.tasks[t]["status"] for t in ids] == ["queued", "paused", "paused", "paused"]


def test_a_forbidden_slice_is_a_conflict_and_moves_nothing() -> None:
    f = make_farm()
    job = f.store.add_job()
    task = f.store.add_task(job, status="completed")
    with pytest.raises(Conflict):
        _slice(f, job, T.COMPLETED, T.PAUSED)
    assert f.store.tasks[task]["status"] == "completed"
    assert f.events.changes == []


def test_a_requeued_slice_starts_afresh_and_wakes_pulls() -> None:
    f = make_farm()
    job = f.store.add_job()
    task = f.store.add_task(job, status="failed", attempts=3, error="boom", worker_id=1)
    queued = f.wakeups.queued_event()
    _slice(f, job, T.FAILED, T.QUEUED)
    row = f.store.tasks[task]
    assert (row["status"], row["attempts"], row["error"], row["worker_id"]) == (
        "queued",
        0,
        None,
        None,
    )
    assert queued.is_set()


def test_a_failed_slice_cancels_what_waits_for_it() -> None:
    f = make_farm()
    job = f.store.add_job()
    frames = [f.store.add_task(job) for _ in range(2)]
    paused = f.store.add_task(job, status="paused")
    video = f.store.add_task(job, waits_for=frames, status="queued")
    assert _slice(f, job, T.QUEUED, T.FAILED, limit=2) == frames[1]
    assert f.store.tasks[video]["status"] == "canceled"
    assert f.store.tasks[paused]["status"] == "paused"
    assert _slice(f, job, T.QUEUED, T.FAILED, after=frames[1]) is None
    assert f.store.jobs[job]["status"] == "paused"


def test_move_all_moves_every_slice() -> None:
    f = make_farm()
    job = f.store.add_job()
    ids = [f.store.add_task(job) for _ in range(SLICE + 1)]
    with f.changes.change():
        f.states.move_all(job, T.QUEUED, T.CANCELED, "job canceled")
    assert all(f.store.tasks[t]["status"] == "canceled" for t in ids)
    assert [len(c.row["ids"]) for c in _bulk(f) if c.row] == [SLICE, 1]
    assert f.store.jobs[job]["status"] == "canceled"
    assert f.tx.commits == 1  # every slice in the caller's one transaction


def test_a_paused_dependent_of_a_failed_task_does_not_wait_for_ever() -> None:
    f = make_farm()
    job = f.store.add_job()
    frame, _ = _rendering(f, job)
    video = f.store.add_task(job, waits_for=[frame])
    _slice(f, job, T.QUEUED, T.PAUSED)  # the job's pause, its queued slice first
    _move(f, frame, T.FAILED, "exit code 1", outcome="failed")  # the worker reports
    _slice(f, job, T.RENDERING, T.PAUSED)  # nothing left to pause there
    _slice(f, job, T.PAUSED, T.QUEUED)  # the job's resume
    assert f.store.tasks[video]["status"] == "canceled"
    assert f.store.jobs[job]["status"] == "failed"
