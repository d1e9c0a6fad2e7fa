"""Leases: only the worker holding a task's current lease may report on it.

Workers call with their own secret from registration; the wrangler uses the farm token.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.api.apiclient import MAX_ATTEMPTS, Api, Worker

pytestmark = pytest.mark.timeout(20)

# What a refused report must leave exactly as it was.
_STATE = (
    "status",
    "worker_id",
    "lease",
    "frame_current",
    "progress",
    "activity",
    "attempts",
    "time_cost",
    "error",
    "updated",
    "finished",
)


def _state(task: dict[str, Any]) -> dict[str, Any]:
    return {k: task[k] for k in _STATE}


async def _leased(api: Api, hostname: str = "render-a") -> tuple[Worker, dict[str, Any]]:
    """A worker holding a freshly queued 2015 task (frames 5..10)."""
    await api.seed_task()
    w = await api.register(hostname)
    got = await w.pull()
    assert got["task_id"] is not None and isinstance(got["lease"], int)
    return w, got


async def test_owner_reports_progress_and_completion(api: Api) -> None:
    w, got = await _leased(api)
    tid, lease = got["task_id"], got["lease"]

    r = await w.report(
        tid,
        lease=lease,
        status="rendering",
        frame_current=7,
        progress=40.0,
        activity="Fra:7 | Rendering 40/100 samples",
        time_cost=3.5,
    )
    assert r.status == 204, r
    assert r.raw == b""
    t = await api.task(tid)
    assert (t["status"], t["frame_current"], t["progress"], t["worker_id"]) == (
        "rendering",
        7,
        40.0,
        w.id,
    )
    assert t["activity"] == "Fra:7 | Rendering 40/100 samples"
    assert t["time_cost"] == 3.5
    worker = (await api.get("/workers")).json["render-a"]
    assert worker["activity"] == "Fra:7 | Rendering 40/100 samples"
    assert worker["current_task"] == tid

    r = await w.report(tid, lease=lease, status="completed", frame_current=10, time_cost=9.0)
    assert r.status == 204, r
    t = await api.task(tid)
    assert (t["status"], t["progress"], t["frame_current"], t["time_cost"]) == (
        "completed",
        100.0,
        10,
        9.0,
    )
    assert t["finished"] is not None
    worker = (await api.get("/workers")).json["render-a"]
    assert worker["current_task"] is None


async def test_report_without_lease_from_the_owner_is_accepted(api: Api) -> None:
    w, got = await _leased(api)
    r = await w.report(got["task_id"], progress=10.0)
    assert r.status == 204, r
    assert (await api.task(got["task_id"]))["progress"] == 10.0


async def test_another_workers_report_is_refused_and_changes_nothing(api: Api) -> None:
    a, got = await _leased(api)
    b = await api.register("render-b")
    tid = got["task_id"]
    before = await api.task(tid)

    for fields in (
        {"lease": got["lease"], "progress": 90.0, "frame_current": 9},
        {"lease": got["lease"], "status": "completed"},
        {"status": "failed", "error": "not mine"},
        {"activity": "hijacked"},
    ):
        r = await b.report(tid, **fields)
        assert r.status == 409, (fields, r)
        assert str(tid) in r.error
    after = await api.task(tid)
    assert _state(after) == _state(before)
    assert after["history"] == before["history"]
    assert (await a.report(tid, lease=got["lease"], progress=5.0)).status == 204


async def test_completion_delivered_twice_is_recorded_once(api: Api) -> None:
    w, got = await _leased(api)
    tid = got["task_id"]
    r1 = await w.report(tid, lease=got["lease"], status="completed")
    assert r1.status == 204, r1
    first = await api.task(tid)
    await asyncio.sleep(0.02)
    r2 = await w.report(tid, lease=got["lease"], status="completed")
    assert r2.status == 204, r2
    second = await api.task(tid)

    assert second["status"] == "completed"
    assert _state(second) == _state(first)
    outcomes = [h["outcome"] for h in second["history"]]
    assert outcomes == ["completed"]
    job_less = await api.tasks(status="completed")
    assert job_less["total"] == 1


async def test_late_report_after_wrangler_requeue_is_refused(api: Api) -> None:
    a, got = await _leased(api)
    tid, old_lease = got["task_id"], got["lease"]

    r = await api.patch(f"/tasks/{tid}", {"status": "queued"})  # the wrangler, farm token
    assert r.status == 204, r
    requeued = await api.task(tid)
    assert (requeued["status"], requeued["worker_id"]) == ("queued", None)

    r = await a.report(tid, lease=old_lease, status="completed")
    assert r.status == 409, r
    assert (await api.task(tid))["status"] == "queued"

    # The task goes to another worker under a new lease; the old one is still refused.
    b = await api.register("render-b")
    got_b = await b.pull()
    assert got_b["task_id"] == tid and got_b["lease"] > old_lease
    r = await a.report(tid, lease=old_lease, progress=50.0)
    assert r.status == 409, r
    r = await a.report(tid, status="completed")
    assert r.status == 409, r
    assert (await api.task(tid))["worker_id"] == b.id
    await b.complete(got_b)
    t = await api.task(tid)
    assert t["status"] == "completed"
    assert [(h["worker_id"], h["outcome"]) for h in t["history"]] == [
        (a.id, "queued"),
        (b.id, "completed"),
    ]


async def test_same_worker_with_a_stale_lease_is_refused(api: Api) -> None:
    """The worker gets its task back under a new lease: reports under the old one are stale."""
    w, got = await _leased(api)
    tid = got["task_id"]
    assert (await api.patch(f"/tasks/{tid}", {"status": "queued"})).status == 204
    again = await w.pull()
    assert again["task_id"] == tid and again["lease"] > got["lease"]

    r = await w.report(tid, lease=got["lease"], status="completed")
    assert r.status == 409, r
    assert (await api.task(tid))["status"] == "rendering"
    await w.complete(again)


async def test_failed_attempts_are_retried_elsewhere_then_fail(api: Api) -> None:
    t = await api.seed_task()
    tid = t["id"]
    workers = [await api.register(f"render-{i}") for i in range(MAX_ATTEMPTS)]

    for attempt, w in enumerate(workers, start=1):
        got = await w.pull()
        assert got["task_id"] == tid, (attempt, got)
        r = await w.report(tid, lease=got["lease"], status="failed", error=f"boom {attempt}")
        assert r.status == 204, r
        after = await api.task(tid)
        assert after["attempts"] == attempt
        if attempt < MAX_ATTEMPTS:
            assert (after["status"], after["worker_id"]) == ("queued", None), after
            # The worker that failed it is not handed the same task again.
            assert (await w.pull())["task_id"] is None
        else:
            assert after["status"] == "failed", after
            assert f"boom {attempt}" in after["error"]
    assert [h["outcome"] for h in after["history"]] == ["failed"] * MAX_ATTEMPTS
    assert [h["worker_id"] for h in after["history"]] == [w.id for w in workers]
    extra = await api.register("render-extra")
    assert (await extra.pull())["task_id"] is None

    # The wrangler can requeue it: attempts start over.
    assert (await api.patch(f"/tasks/{tid}", {"status": "queued"})).status == 204
    t = await api.task(tid)
    assert (t["status"], t["attempts"], t["error"]) == ("queued", 0, None)


async def test_task_log_append_and_read(api: Api) -> None:
    w, got = await _leased(api)
    tid, lease = got["task_id"], got["lease"]
    lines = [f"Fra:{5 + i} Mem:12M | Rendering {i}" for i in range(10)]
    # The manager's attempt header is written with the attempt's first lines.
    assert (await api.get(f"/tasks/{tid}/log")).text == ""
    r = await w.api.post(f"/tasks/{tid}/log", {"lease": lease, "lines": lines[:6]})
    assert r.status == 204, r
    head = (await api.get(f"/tasks/{tid}/log")).text.splitlines(keepends=True)[0]
    assert head.startswith("[manager ") and f"lease {lease}" in head
    r = await w.api.post(f"/tasks/{tid}/log", {"lease": lease, "lines": lines[6:]})
    assert r.status == 204, r
    full_text = head + "".join(line + "\n" for line in lines)
    size = len(full_text.encode())

    r = await api.get(f"/tasks/{tid}/log")
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == full_text
    assert int(r.headers["X-Log-Size"]) == size

    r = await api.get(f"/tasks/{tid}/log", params={"tail": "3"})
    assert r.status == 200, r
    assert r.text.splitlines() == lines[-3:]
    assert int(r.headers["X-Log-Size"]) == size

    offset = len((head + lines[0] + "\n").encode())
    r = await api.get(f"/tasks/{tid}/log", params={"offset": str(offset), "limit": "20"})
    assert r.status == 200, r
    assert r.raw == full_text.encode()[offset : offset + 20]
    assert int(r.headers["X-Log-Size"]) == size

    r = await api.get(f"/tasks/{tid}/log", params={"offset": str(size)})
    assert r.status == 200 and r.raw == b"", r

    # A worker secret writes its task's log but reads no log (least privilege).
    r = await w.api.get(f"/tasks/{tid}/log", params={"tail": "1"})
    assert r.status == 403 and "viewer" in r.error, r
    assert (await api.get("/workers")).json["render-a"]["log"].endswith(lines[-1])


async def test_task_log_of_a_task_without_output_is_empty(api: Api) -> None:
    t = await api.seed_task()
    r = await api.get(f"/tasks/{t['id']}/log")
    assert r.status == 200, r
    assert r.raw == b""
    assert r.headers["X-Log-Size"] == "0"


async def test_task_log_from_a_non_owner_is_refused(api: Api) -> None:
    a, got = await _leased(api)
    tid = got["task_id"]
    r = await a.api.post(f"/tasks/{tid}/log", {"lease": got["lease"], "lines": ["mine"]})
    assert r.status == 204, r
    b = await api.register("render-b")

    r = await b.api.post(f"/tasks/{tid}/log", {"lease": got["lease"], "lines": ["intruder"]})
    assert r.status == 409, r
    assert str(tid) in r.error
    r = await b.api.post(f"/tasks/{tid}/log", {"lines": ["intruder"]})
    assert r.status == 409, r
    # The owner under a stale lease is refused too.
    r = await a.api.post(f"/tasks/{tid}/log", {"lease": got["lease"] + 7, "lines": ["stale"]})
    assert r.status == 409, r

    r = await api.get(f"/tasks/{tid}/log")
    header, rest = r.text.split("\n", 1)
    assert header.startswith("[manager ") and rest == "mine\n"  # no intruder's line
    assert r.headers["X-Log-Size"] == str(len(r.raw))


async def test_rendering_watch_answers_at_once_when_the_wrangler_cancels(api: Api) -> None:
    """PATCH /workers/{id} {rendering, task_id, wait} is held while the lease stands and
    answered within a second with task_id null when the wrangler cancels the task."""
    w, got = await _leased(api)
    tid = got["task_id"]
    watch = asyncio.create_task(
        w.api.patch(f"/workers/{w.id}", {"status": "rendering", "task_id": tid, "wait": 5})
    )
    await asyncio.sleep(0.5)
    assert not watch.done(), f"the watch answered while the lease stood: {watch.result()}"

    canceled = time.monotonic()
    assert (await api.patch(f"/tasks/{tid}", {"status": "canceled"})).status == 204
    r = await asyncio.wait_for(watch, timeout=2)
    elapsed = time.monotonic() - canceled
    assert r.status == 200, r
    assert r.json["task_id"] is None
    assert elapsed < 1.0, elapsed
    assert (await api.task(tid))["status"] == "canceled"
    assert (await w.report(tid, lease=got["lease"], status="completed")).status == 409


async def test_rendering_watch_holds_until_wait_when_nothing_changes(api: Api) -> None:
    w, got = await _leased(api)
    started = time.monotonic()
    r = await w.api.patch(
        f"/workers/{w.id}", {"status": "rendering", "task_id": got["task_id"], "wait": 1}
    )
    elapsed = time.monotonic() - started
    assert r.status == 200, r
    assert r.json == {"task_id": got["task_id"], "lease": got["lease"]}
    assert 0.9 <= elapsed < 3, elapsed
