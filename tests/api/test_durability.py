"""A 2xx means "on disk": SIGKILL the headless manager right after each answer, start
it again on the same data dir, and everything it acknowledged is there.

Real processes (`python main.py manager --headless …`, see tests/procs.py), no goodbye:
the kill comes as soon as the answer has been read, before any later request could
have flushed anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.procs import Farm, Http

pytestmark = pytest.mark.timeout(60)

SETTINGS = {
    "filepath": "/shots/020/anim.blend",
    "frame_start": 5,
    "frame_end": 10,
    "render_output": "/renders/020/####",
    "format": "PNG",
}
SEED_TASK = {
    "priority": 10,
    "settings": json.dumps(SETTINGS),
    "task_id": 77,
    "type": "blender_render",
    "parser": "blender_render",
}


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    farm = Farm(tmp_path)
    farm.start_manager()
    try:
        yield farm
    finally:
        farm.stop()


def ack(http: Http, method: str, path: str, body: Any, status: int) -> Any:
    """Send one request and insist on its exact 2xx; the JSON answer, if any."""
    r = http.request(method, path, body)
    assert r.status == status, f"{method} {path}: {r.status} {r.text}"
    return r.json() if r.body else None


def crash_and_restart(farm: Farm) -> None:
    farm.kill_manager()
    assert farm.manager is not None and farm.manager.popen.returncode == -9
    farm.start_manager()


def test_worker_registration_and_its_secret_survive(farm: Farm) -> None:
    reg = ack(farm.http, "POST", "/workers", {"hostname": "render-01", "system": "Linux"}, 200)
    worker = reg["render-01"]
    crash_and_restart(farm)

    listed = farm.http.get("/workers")
    assert listed["render-01"]["id"] == worker["id"]
    assert listed["render-01"]["system"] == "Linux"
    own = Http(farm.url, token=worker["secret"])
    r = own.request("GET", f"/workers/{worker['id']}")
    assert r.status == 200, r.text
    r = own.request("PATCH", f"/workers/{worker['id']}", {"status": "available"})
    assert r.status == 200, r.text
    assert r.json()["task_id"] is None
    # Only the secret handed out survives as a credential, not any string.
    assert Http(farm.url, token="guess").request("GET", f"/workers/{worker['id']}").status == 401

    # Re-registering after the crash keeps the id and retires the old secret.
    again = ack(farm.http, "POST", "/workers", {"hostname": "render-01", "system": "Linux"}, 200)
    crash_and_restart(farm)
    assert again["render-01"]["id"] == worker["id"]
    assert own.request("GET", f"/workers/{worker['id']}").status == 401
    assert (
        Http(farm.url, token=again["render-01"]["secret"])
        .request("GET", f"/workers/{worker['id']}")
        .status
        == 200
    )


def test_created_task_and_job_survive(farm: Farm) -> None:
    task = ack(farm.http, "POST", "/tasks", SEED_TASK, 202)
    crash_and_restart(farm)
    got = farm.http.get(f"/tasks/{task['id']}")
    for key in ("id", "priority", "frame_start", "frame_end", "frame_current", "status", "format"):
        assert got[key] == task[key], key
    assert got["task_id"] == 77
    assert got["commands"][0][:3] == ["blender", "--background", "/shots/020/anim.blend"]

    job_req = {
        "name": "durable",
        "type": "command",
        "settings": {"argv": ["echo", "{frame}"], "frame_start": 1, "frame_end": 10},
        "priority": 70,
        "chunk_size": 3,
    }
    job = ack(farm.http, "POST", "/jobs", job_req, 201)
    crash_and_restart(farm)
    got = farm.http.get(f"/jobs/{job['id']}")
    assert (got["name"], got["priority"], got["status"]) == ("durable", 70, "queued")
    got_tasks = farm.http.get(f"/tasks?job_id={job['id']}")["tasks"]
    assert [(t["frame_start"], t["frame_end"]) for t in got_tasks] == [
        (1, 3),
        (4, 6),
        (7, 9),
        (10, 10),
    ]
    assert got_tasks[3]["commands"] == [["echo", "10"]]
    assert farm.http.get("/tasks")["total"] == 5

    # A wrangler's action is as durable as a creation.
    ack(farm.http, "POST", f"/jobs/{job['id']}/actions", {"action": "cancel"}, 200)
    crash_and_restart(farm)
    statuses = {t["status"] for t in farm.http.get(f"/tasks?job_id={job['id']}")["tasks"]}
    assert statuses == {"canceled"}

    ack(farm.http, "DELETE", f"/tasks/{task['id']}", None, 202)
    crash_and_restart(farm)
    assert farm.http.request("GET", f"/tasks/{task['id']}").status == 404


def test_lease_log_and_completion_survive(farm: Farm) -> None:
    reg = ack(farm.http, "POST", "/workers", {"hostname": "render-02", "system": "Linux"}, 200)
    wid, secret = reg["render-02"]["id"], reg["render-02"]["secret"]
    worker = Http(farm.url, token=secret)
    task = ack(farm.http, "POST", "/tasks", SEED_TASK, 202)

    pulled = ack(worker, "PATCH", f"/workers/{wid}", {"status": "available"}, 200)
    assert pulled["task_id"] == task["id"]
    crash_and_restart(farm)
    got = farm.http.get(f"/tasks/{task['id']}")
    assert (got["status"], got["worker_id"], got["lease"]) == ("rendering", wid, pulled["lease"])

    # The worker comes back with its lease: progress and log lines are accepted.
    lease = pulled["lease"]
    ack(worker, "PATCH", f"/tasks/{task['id']}", {"lease": lease, "frame_current": 8}, 204)
    ack(worker, "POST", f"/tasks/{task['id']}/log", {"lease": lease, "lines": ["Fra:8", "ok"]}, 204)
    crash_and_restart(farm)
    assert farm.http.get(f"/tasks/{task['id']}")["frame_current"] == 8
    header, *lines = farm.http.text(f"/tasks/{task['id']}/log").splitlines()
    assert header.startswith("[manager ") and "lease 1" in header  # the attempt's header
    assert lines == ["Fra:8", "ok"]

    ack(worker, "PATCH", f"/tasks/{task['id']}", {"lease": lease, "status": "completed"}, 204)
    crash_and_restart(farm)
    got = farm.http.get(f"/tasks/{task['id']}")
    assert got["status"] == "completed"
    assert [h["outcome"] for h in got["history"]] == ["completed"]

    # The worker never saw the answer and delivers the completion again: harmless.
    ack(worker, "PATCH", f"/tasks/{task['id']}", {"lease": lease, "status": "completed"}, 204)
    got = farm.http.get(f"/tasks/{task['id']}")
    assert [h["outcome"] for h in got["history"]] == ["completed"]
    assert farm.http.get("/workers")["render-02"]["current_task"] is None


def test_a_burst_of_acknowledged_tasks_survives(farm: Farm) -> None:
    ids = []
    for n in range(40):
        body = SEED_TASK | {"task_id": n, "priority": n}
        ids.append(ack(farm.http, "POST", "/tasks", body, 202)["id"])
    crash_and_restart(farm)
    page = farm.http.get("/tasks?limit=1000")
    assert page["total"] == 40
    assert sorted(t["id"] for t in page["tasks"]) == sorted(ids)
    assert {t["task_id"]: t["priority"] for t in page["tasks"]} == {n: n for n in range(40)}
