"""Bad input gets a 4xx JSON {"error": "..."} naming the problem, never a 5xx.

Every case runs against a farm with a queued 2015 task, a two-task job and two workers;
after each refusal the manager must still answer GET /health, and nothing may have
changed: no half-written task, job or worker rows.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.apiclient import Api, Worker, blender_settings, job_body, seed_task_body
from tests.procs import Farm

pytestmark = pytest.mark.timeout(30)

BIG = 2**64  # past SQLite's 64-bit INTEGER
MISSING = 999_999
ANY_4XX = tuple(range(400, 500))
_UNSET = object()


@dataclass(frozen=True)
class Bad:
    id: str
    method: str
    path: str  # may name {task}, {job}, {a} (worker a), {b} (worker b)
    body: Any = _UNSET  # sent as JSON
    raw: bytes | None = None  # sent as-is
    auth: str = "farm"  # farm | none | wrong | basic | a (worker a's secret) | b
    status: int | tuple[int, ...] = 422
    says: tuple[str, ...] = ()  # what the error message must mention


def _without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


SEED = seed_task_body()
JOB = job_body()

CASES = [
    # -- not JSON, or not a JSON object ----------------------------------------------
    Bad(
        "malformed-json",
        "POST",
        "/tasks",
        raw=b'{"priority": 10, "settings": ',
        status=400,
        says=("JSON",),
    ),
    Bad(
        "malformed-json-worker",
        "PATCH",
        "/workers/{a}",
        raw=b"{status: available}",
        auth="a",
        status=400,
        says=("JSON",),
    ),
    Bad(
        "not-utf8",
        "POST",
        "/workers",
        raw=b'{"hostname": "\xff\xfe", "system": "x"}',
        status=(400, 422),
    ),
    Bad("json-array", "POST", "/tasks", body=[SEED], says=("object",)),
    Bad("json-string", "POST", "/jobs", body="a job", says=("object",)),
    Bad("json-null", "POST", "/workers", raw=b"null", says=("object",)),
    Bad("json-number", "PATCH", "/workers/{a}", raw=b"42", auth="a", says=("object",)),
    Bad(
        "nan-is-not-json",
        "PATCH",
        "/workers/{a}",
        auth="a",
        status=(400, 422),
        raw=b'{"status": "available", "update_frequent": {"worker_cpu_percent": NaN}}',
    ),
    Bad(
        "infinity-is-not-json",
        "PATCH",
        "/tasks/{task}",
        raw=b'{"time_cost": Infinity}',
        status=(400, 422),
    ),
    # -- wrong types -------------------------------------------------------------------
    Bad("priority-str", "POST", "/tasks", body=SEED | {"priority": "high"}, says=("priority",)),
    Bad("task_id-str", "POST", "/tasks", body=SEED | {"task_id": "abc"}, says=("task_id",)),
    Bad("type-int", "POST", "/tasks", body=SEED | {"type": 7}, says=("type",)),
    Bad(
        "hostname-int",
        "POST",
        "/workers",
        body={"hostname": 123, "system": "x"},
        says=("hostname",),
    ),
    Bad(
        "hostname-empty",
        "POST",
        "/workers",
        body={"hostname": "", "system": "x"},
        says=("hostname",),
    ),
    Bad(
        "worker-status-int", "PATCH", "/workers/{a}", body={"status": 5}, auth="a", says=("status",)
    ),
    Bad(
        "worker-status-unknown",
        "PATCH",
        "/workers/{a}",
        body={"status": "sleeping"},
        auth="a",
        says=("status",),
    ),
    Bad(
        "wait-negative",
        "PATCH",
        "/workers/{a}",
        body={"status": "available", "wait": -1},
        auth="a",
        says=("wait",),
    ),
    Bad(
        "wait-str",
        "PATCH",
        "/workers/{a}",
        body={"status": "available", "wait": "long"},
        auth="a",
        says=("wait",),
    ),
    Bad(
        "load-average-str",
        "PATCH",
        "/workers/{a}",
        auth="a",
        says=("load_average",),
        body={"status": "available", "update_frequent": {"load_average": "high"}},
    ),
    Bad("task-status-unknown", "PATCH", "/tasks/{task}", body={"status": "done"}, says=("status",)),
    Bad("progress-over-100", "PATCH", "/tasks/{task}", body={"progress": 150}, says=("progress",)),
    Bad("chunk-size-zero", "POST", "/jobs", body=JOB | {"chunk_size": 0}, says=("chunk_size",)),
    Bad(
        "job-priority-str", "PATCH", "/jobs/{job}", body={"priority": "urgent"}, says=("priority",)
    ),
    Bad("log-lines-str", "POST", "/tasks/{task}/log", body={"lines": "one line"}, says=("lines",)),
    Bad(
        "switch-unknown", "PUT", "/workers/{a}/status", body={"status": "asleep"}, says=("status",)
    ),
    Bad("unknown-field", "POST", "/tasks", body=SEED | {"colour": "red"}, says=("colour",)),
    # -- missing fields ----------------------------------------------------------------
    Bad("no-body", "POST", "/tasks", status=(400, 422)),
    Bad("task-no-type", "POST", "/tasks", body=_without(SEED, "type"), says=("type",)),
    Bad("task-no-settings", "POST", "/tasks", body=_without(SEED, "settings"), says=("settings",)),
    Bad("worker-no-hostname", "POST", "/workers", body={"system": "Linux"}, says=("hostname",)),
    Bad("report-no-status", "PATCH", "/workers/{a}", body={"wait": 1}, auth="a", says=("status",)),
    Bad("job-no-name", "POST", "/jobs", body=_without(JOB, "name"), says=("name",)),
    Bad("job-no-settings", "POST", "/jobs", body=_without(JOB, "settings"), says=("settings",)),
    Bad("action-missing", "POST", "/jobs/{job}/actions", body={}, says=("action",)),
    Bad(
        "action-unknown",
        "POST",
        "/jobs/{job}/actions",
        body={"action": "explode"},
        says=("action",),
    ),
    Bad("job-priority-missing", "PATCH", "/jobs/{job}", body={}, says=("priority",)),
    # -- unknown compiler, bad compiler settings, settings not a JSON string -----------
    Bad("unknown-compiler", "POST", "/tasks", body=SEED | {"type": "maya_render"}, says=("type",)),
    Bad(
        "unknown-compiler-job", "POST", "/jobs", body=JOB | {"type": "maya_render"}, says=("type",)
    ),
    Bad(
        "frame-end-str",
        "POST",
        "/tasks",
        says=("settings.frame_end",),
        body=SEED | {"settings": json.dumps(blender_settings(frame_end="ten"))},
    ),
    Bad(
        "frame-end-before-start",
        "POST",
        "/tasks",
        says=("frame_end",),
        body=SEED | {"settings": json.dumps(blender_settings(frame_start=10, frame_end=5))},
    ),
    Bad(
        "no-filepath",
        "POST",
        "/tasks",
        says=("settings.filepath",),
        body=SEED | {"settings": json.dumps(_without(blender_settings(), "filepath"))},
    ),
    Bad(
        "format-unknown",
        "POST",
        "/tasks",
        says=("settings.format",),
        body=SEED | {"settings": json.dumps(blender_settings(format="GIF"))},
    ),
    Bad(
        "settings-unknown-key",
        "POST",
        "/tasks",
        says=("settings.fps",),
        body=SEED | {"settings": json.dumps(blender_settings(fps=24))},
    ),
    Bad(
        "settings-object",
        "POST",
        "/tasks",
        body=SEED | {"settings": blender_settings()},
        says=("settings",),
    ),
    Bad(
        "settings-not-json",
        "POST",
        "/tasks",
        body=SEED | {"settings": "filepath=a.blend"},
        says=("settings",),
    ),
    Bad(
        "settings-json-array",
        "POST",
        "/tasks",
        body=SEED | {"settings": "[1, 2]"},
        says=("settings",),
    ),
    Bad(
        "job-argv-empty",
        "POST",
        "/jobs",
        says=("settings.argv",),
        body=JOB | {"settings": {"argv": [], "frame_start": 1, "frame_end": 2}},
    ),
    Bad(
        "job-argv-str",
        "POST",
        "/jobs",
        says=("settings.argv",),
        body=JOB | {"settings": {"argv": "echo {frame}", "frame_start": 1, "frame_end": 2}},
    ),
    Bad(
        "job-frame-end-before-start",
        "POST",
        "/jobs",
        says=("frame_end",),
        body=JOB | {"settings": {"argv": ["echo"], "frame_start": 9, "frame_end": 2}},
    ),
    Bad("job-settings-string", "POST", "/jobs", body=JOB | {"settings": "{}"}, says=("settings",)),
    # -- numbers too big for the database ------------------------------------------------
    Bad(
        "task_id-huge",
        "POST",
        "/tasks",
        body=SEED | {"task_id": BIG},
        status=ANY_4XX,
        says=("task_id",),
    ),
    Bad(
        "frame-huge",
        "POST",
        "/tasks",
        status=ANY_4XX,
        says=("frame_",),
        body=SEED | {"settings": json.dumps(blender_settings(frame_start=BIG, frame_end=BIG))},
    ),
    Bad(
        "job-frame-huge",
        "POST",
        "/jobs",
        status=ANY_4XX,
        says=("frame_",),
        body=JOB | {"settings": {"argv": ["echo"], "frame_start": BIG, "frame_end": BIG}},
    ),
    Bad(
        "frame_current-huge",
        "PATCH",
        "/tasks/{task}",
        body={"frame_current": BIG},
        status=ANY_4XX,
        says=("frame_current",),
    ),
    Bad(
        "mac-huge",
        "POST",
        "/workers",
        status=ANY_4XX,
        says=("mac_address",),
        body={"hostname": "render-big", "system": "x", "mac_address": BIG},
    ),
    Bad("query-job_id-huge", "GET", f"/tasks?job_id={BIG}", status=ANY_4XX, says=("job_id",)),
    Bad("query-offset-huge", "GET", f"/jobs?offset={BIG}", status=ANY_4XX, says=("offset",)),
    Bad("path-id-huge", "GET", f"/tasks/{BIG}", status=ANY_4XX, says=(str(BIG),)),
    Bad("path-id-huge-delete", "DELETE", f"/jobs/{BIG}", status=ANY_4XX, says=(str(BIG),)),
    # -- bad query strings -------------------------------------------------------------
    Bad("limit-str", "GET", "/tasks?limit=all", says=("limit",)),
    Bad("limit-zero", "GET", "/tasks?limit=0", says=("limit",)),
    Bad("status-unknown", "GET", "/tasks?status=bogus", says=("status",)),
    Bad("tail-negative", "GET", "/tasks/{task}/log?tail=-1", says=("tail",)),
    # -- unknown and non-numeric ids --------------------------------------------------
    Bad("task-unknown", "GET", f"/tasks/{MISSING}", status=404, says=(str(MISSING),)),
    Bad(
        "task-unknown-patch",
        "PATCH",
        f"/tasks/{MISSING}",
        body={"priority": 1},
        status=404,
        says=(str(MISSING),),
    ),
    Bad("task-unknown-delete", "DELETE", f"/tasks/{MISSING}", status=404, says=(str(MISSING),)),
    Bad("task-unknown-log", "GET", f"/tasks/{MISSING}/log", status=404, says=(str(MISSING),)),
    Bad(
        "task-unknown-log-post",
        "POST",
        f"/tasks/{MISSING}/log",
        body={"lines": ["x"]},
        status=404,
        says=(str(MISSING),),
    ),
    Bad("job-unknown", "GET", f"/jobs/{MISSING}", status=404, says=(str(MISSING),)),
    Bad(
        "job-unknown-action",
        "POST",
        f"/jobs/{MISSING}/actions",
        body={"action": "pause"},
        status=404,
        says=(str(MISSING),),
    ),
    Bad(
        "job-unknown-patch",
        "PATCH",
        f"/jobs/{MISSING}",
        body={"priority": 3},
        status=404,
        says=(str(MISSING),),
    ),
    Bad("job-unknown-delete", "DELETE", f"/jobs/{MISSING}", status=404, says=(str(MISSING),)),
    Bad("worker-unknown", "GET", f"/workers/{MISSING}", status=404, says=(str(MISSING),)),
    Bad(
        "worker-unknown-patch",
        "PATCH",
        f"/workers/{MISSING}",
        body={"status": "available"},
        status=404,
        says=(str(MISSING),),
    ),
    Bad(
        "worker-unknown-switch",
        "PUT",
        f"/workers/{MISSING}/status",
        body={"status": "disabled"},
        status=404,
        says=(str(MISSING),),
    ),
    Bad("worker-unknown-delete", "DELETE", f"/workers/{MISSING}", status=404, says=(str(MISSING),)),
    Bad("task-id-word", "GET", "/tasks/abc", status=404, says=("/tasks/abc",)),
    Bad("task-id-negative", "DELETE", "/tasks/-1", status=404, says=("/tasks/-1",)),
    Bad("job-id-float", "GET", "/jobs/1.5", status=404, says=("/jobs/1.5",)),
    Bad(
        "worker-id-word",
        "PATCH",
        "/workers/me",
        body={"status": "available"},
        status=404,
        says=("/workers/me",),
    ),
    Bad("no-such-route", "GET", "/render", status=404, says=("/render",)),
    Bad("wrong-method", "PUT", "/tasks", body=SEED, status=405, says=("/tasks",)),
    # -- state conflicts ---------------------------------------------------------------
    Bad(
        "queued-to-completed",
        "PATCH",
        "/tasks/{task}",
        body={"status": "completed"},
        status=409,
        says=("queued", "completed"),
    ),
    Bad(
        "worker-report-on-unleased",
        "PATCH",
        "/tasks/{task}",
        auth="a",
        body={"status": "completed"},
        status=409,
        says=("{task}",),
    ),
    # -- who is calling ----------------------------------------------------------------
    Bad("no-token", "POST", "/tasks", body=SEED, auth="none", status=401, says=("Authorization",)),
    Bad(
        "no-token-pull",
        "PATCH",
        "/workers/{a}",
        body={"status": "available"},
        auth="none",
        status=401,
        says=("Authorization",),
    ),
    Bad("wrong-token", "POST", "/jobs", body=JOB, auth="wrong", status=401, says=("token",)),
    Bad("wrong-token-list", "GET", "/tasks", auth="wrong", status=401, says=("token",)),
    Bad("basic-auth", "GET", "/workers", auth="basic", status=401, says=("Authorization",)),
    # A real credential of the wrong role is a 403 (it is known, it may not do this).
    Bad("secret-on-farm-route", "POST", "/tasks", body=SEED, auth="a", status=403),
    Bad("secret-lists-workers", "GET", "/workers", auth="a", status=403),
    Bad("secret-deletes-task", "DELETE", "/tasks/{task}", auth="a", status=403),
    Bad("secret-creates-job", "POST", "/jobs", body=JOB, auth="a", status=403),
    Bad(
        "secret-registers",
        "POST",
        "/workers",
        body={"hostname": "evil", "system": "x"},
        auth="a",
        status=403,
    ),
    Bad(
        "secret-job-action",
        "POST",
        "/jobs/{job}/actions",
        body={"action": "cancel"},
        auth="a",
        status=403,
    ),
    Bad(
        "secret-disables-worker",
        "PUT",
        "/workers/{b}/status",
        body={"status": "disabled"},
        auth="a",
        status=403,
    ),
    Bad(
        "a-reports-as-b",
        "PATCH",
        "/workers/{b}",
        body={"status": "available"},
        auth="a",
        status=403,
        says=("{b}",),
    ),
    Bad(
        "a-goes-offline-as-b",
        "PATCH",
        "/workers/{b}",
        body={"status": "offline"},
        auth="a",
        status=403,
        says=("{b}",),
    ),
    Bad(
        "worker-sets-priority",
        "PATCH",
        "/tasks/{task}",
        body={"priority": 99},
        auth="a",
        status=403,
        says=("priority",),
    ),
    # -- size ----------------------------------------------------------------------------
    Bad(
        "oversized-log",
        "POST",
        "/tasks/{task}/log",
        status=413,
        says=("body",),
        raw=b'{"lines": ["' + b"x" * (5 * 1024 * 1024) + b'"]}',
    ),
    Bad(
        "oversized-task",
        "POST",
        "/tasks",
        status=413,
        says=("body",),
        raw=json.dumps(SEED | {"settings": " " * (5 * 1024 * 1024)}).encode(),
    ),
]


@dataclass
class Farmish:
    task: int
    job: int
    a: Worker
    b: Worker

    def ids(self) -> dict[str, int]:
        return {"task": self.task, "job": self.job, "a": self.a.id, "b": self.b.id}


@pytest.fixture
async def farm(api: Api) -> Farmish:
    task = await api.seed_task()
    job = await api.job(frames=(1, 2))
    a = await api.register("render-a")
    b = await api.register("render-b")
    return Farmish(task["id"], job["id"], a, b)


async def _snapshot(api: Api) -> dict[str, Any]:
    """Everything a refused request must leave alone (heartbeat times and the clock's
    figures aside: a running job's elapsed and remaining move with time)."""
    tasks = await api.tasks(limit=1000)
    jobs = (await api.get("/jobs")).json
    for j in jobs["jobs"]:
        for key in ("eta_at", "elapsed", "remaining"):
            j.pop(key, None)
    workers = (await api.get("/workers")).json
    for w in workers.values():
        w.pop("last_seen", None)
    return {"tasks": tasks, "jobs": jobs, "workers": workers}


def _token(auth: str, farm: Farmish, api: Api) -> str | None:
    return {
        "farm": api.token,
        "none": None,
        "wrong": "not-the-farm-token",
        "basic": None,
        "a": farm.a.secret,
        "b": farm.b.secret,
    }[auth]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_bad_input_is_refused_with_a_clear_4xx(api: Api, farm: Farmish, case: Bad) -> None:
    ids = farm.ids()
    path = case.path.format(**ids)
    before = await _snapshot(api)

    headers = {"Authorization": "Basic cmVuZGVyOmZhcm0="} if case.auth == "basic" else {}
    kwargs: dict[str, Any] = {"token": _token(case.auth, farm, api), "headers": headers}
    if case.raw is not None:
        kwargs["data"] = case.raw
        headers["Content-Type"] = "application/json"
    elif case.body is not _UNSET:
        kwargs["body"] = case.body
    r = await api.call(case.method, path, **kwargs)

    allowed = case.status if isinstance(case.status, tuple) else (case.status,)
    expected = "a 4xx" if case.status == ANY_4XX else case.status
    assert r.status in allowed, f"{case.id}: expected {expected}, got {r}"
    assert 400 <= r.status < 500
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    message = r.error
    for word in case.says:
        word = word.format(**ids)
        assert word.lower() in message.lower(), f"{case.id}: {message!r} does not name {word!r}"

    health = await api.get("/health", token=None)
    assert health.status == 200, health
    assert health.json["status"] == "ok"
    assert await _snapshot(api) == before, f"{case.id} changed the farm"


async def test_manager_keeps_serving_after_a_storm_of_bad_input(api: Api, farm: Farmish) -> None:
    """All the bad requests back to back on one connection, then a normal day's work.
    (Whether each answer is the right 4xx is the parametrized test's business.)"""
    for case in CASES:
        if case.raw is not None and len(case.raw) > 1024 * 1024:
            continue
        body = (
            {"data": case.raw}
            if case.raw is not None
            else ({} if case.body is _UNSET else {"body": case.body})
        )
        r = await api.call(
            case.method, case.path.format(**farm.ids()), token=_token(case.auth, farm, api), **body
        )
        assert r.status < 500, (case.id, r)
        health = await api.get("/health", token=None)
        assert health.status == 200, (case.id, health)
    got = await farm.a.pull()
    assert got["task_id"] is not None
    await farm.a.complete(got)
    assert (await api.task(got["task_id"]))["status"] == "completed"


async def test_rejected_job_writes_no_rows(api: Api, farm: Farmish) -> None:
    jobs_before = (await api.get("/jobs")).json["total"]
    tasks_before = (await api.tasks())["total"]
    for body in (
        JOB | {"type": "nope"},
        JOB | {"settings": {"argv": ["echo"], "frame_start": 5, "frame_end": 1}},
        JOB | {"chunk_size": -3},
        JOB | {"settings": {"argv": ["echo"], "frame_start": BIG, "frame_end": BIG + 2}},
    ):
        r = await api.post("/jobs", body)
        assert r.status >= 400, r  # (that it is a 4xx is test_bad_input_is_refused's job)
    assert (await api.get("/jobs")).json["total"] == jobs_before
    assert (await api.tasks())["total"] == tasks_before
    # The next good job gets the next ids and exactly its own tasks.
    job = await api.job(frames=(1, 3), chunk_size=1)
    assert job["tasks_total"] == 3
    assert (await api.tasks())["total"] == tasks_before + 3


@pytest.mark.timeout(40)
def test_absurd_frame_range_is_refused_quickly(tmp_path: Path) -> None:
    """A typo'd frame range (2 million one-frame tasks) must be refused, not compiled on
    the loop for minutes while every worker and the window wait. A real process, so the
    client can give up without hanging the test."""
    farm = Farm(tmp_path)
    farm.start_manager()
    try:
        http = farm.http
        body = job_body("typo", frames=(1, 2_000_000), chunk_size=1)
        try:
            r = http.request("POST", "/jobs", body, timeout=5)
        except OSError as exc:
            msg = f"POST /jobs with 2,000,000 tasks not answered in 5 s: {exc}"
            raise AssertionError(msg) from exc
        assert 400 <= r.status < 500, (r.status, r.text)
        message = r.json()["error"]
        assert any(w in message for w in ("frame_end", "chunk_size", "tasks")), message
        assert http.get("/jobs")["total"] == 0
        assert http.request("GET", "/health", timeout=2).status == 200
    finally:
        if farm.manager is not None:
            farm.manager.stop(signal.SIGKILL)
