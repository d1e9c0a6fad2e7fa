"""The right work on the right machine (issue 16), with real manager and worker
processes: tags route jobs, jobs wait for jobs.

Tasks are `command` jobs running small Python scripts: no Blender needed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.procs import Farm, Http, python_job, wait_until

pytestmark = pytest.mark.timeout(180)


def worker_id(farm: Farm, name: str) -> int:
    return int(farm.http.get("/workers")[name]["id"])


def job(http: Http, job_id: int) -> dict[str, Any]:
    return http.get(f"/jobs/{job_id}")


def completed(http: Http, job_id: int) -> bool:
    return job(http, job_id)["status"] == "completed"


def test_tags_route_two_jobs_to_the_workers_that_have_them(farm: Farm) -> None:
    farm.start_manager()
    farm.add_worker("gpu-node", "--tags", "gpu")
    farm.add_worker("lookdev-node", "--tags", "LookDev")
    http = farm.http
    workers = http.get("/workers")
    assert workers["gpu-node"]["tags"] == ["gpu"]
    assert workers["lookdev-node"]["tags"] == ["lookdev"]  # one spelling: lower case
    gpu = worker_id(farm, "gpu-node")
    lookdev = worker_id(farm, "lookdev-node")
    assert http.get(f"/workers/{gpu}")["tags"] == ["gpu"]

    sleepy = "import time; time.sleep(0.3)"
    gpu_job = python_job(http, sleepy, frames=4, tags=["gpu"])
    look_job = python_job(http, sleepy, frames=4, tags=["lookdev"])
    assert gpu_job["tags"] == ["gpu"]
    wait_until(lambda: completed(http, gpu_job["id"]), 60, "the gpu job")
    wait_until(lambda: completed(http, look_job["id"]), 60, "the lookdev job")
    assert {t["worker_id"] for t in http.job_tasks(gpu_job["id"])} == {gpu}
    assert {t["worker_id"] for t in http.job_tasks(look_job["id"])} == {lookdev}

    # A job no enabled worker can take says why, and waits; a tag set by the
    # wrangler lets it start at once (the held polls wake).
    both = python_job(http, "pass", tags=["gpu", "lookdev"])
    assert both["waiting_reason"] == "no enabled worker has tag lookdev"
    cuda = python_job(http, "pass", tags=["cuda"])
    assert cuda["waiting_reason"] == "no enabled worker has tag cuda"
    assert http.get("/jobs")["jobs"][-1]["waiting_reason"] == "no enabled worker has tag cuda"
    reply = http.request("PUT", f"/workers/{lookdev}/tags", {"tags": ["cuda"]})
    assert reply.status == 200, reply.text
    assert reply.json()["tags"] == ["cuda"]
    assert reply.json()["tags_offered"] == ["lookdev"]
    wait_until(lambda: completed(http, cuda["id"]), 30, "the cuda job on lookdev-node")
    assert {t["worker_id"] for t in http.job_tasks(cuda["id"])} == {lookdev}
    assert job(http, both["id"])["status"] == "queued"  # nobody has gpu and lookdev

    bad = http.request("PUT", f"/workers/{lookdev}/tags", {"tags": ["no spaces"]})
    assert bad.status == 422 and "tags" in bad.text


def test_a_job_starts_the_moment_the_job_it_depends_on_completes(farm: Farm) -> None:
    farm.start_manager()
    farm.add_worker("a", "--tags", "a")
    farm.add_worker("b", "--tags", "b")  # idle in a held poll while the parent renders
    http = farm.http
    parent = python_job(http, "import time; time.sleep(2)", tags=["a"])
    # Only b may run the child, so it is b's held poll that must wake (a, which
    # finishes the parent, would ask again at once anyway).
    child = python_job(http, "pass", frames=2, depends_on=[parent["id"]], tags=["b"])
    assert child["depends_on"] == [parent["id"]]
    assert child["waiting_reason"] == f"waiting for job {parent['id']}"
    first_task = http.job_tasks(child["id"])[0]["id"]
    assert http.get(f"/tasks/{first_task}")["waiting_reason"] == child["waiting_reason"]
    assert job(http, child["id"])["status"] == "queued"
    wait_until(lambda: completed(http, child["id"]), 60, "the child job")
    (parent_task,) = http.job_tasks(parent["id"])
    assert parent_task["worker_id"] == worker_id(farm, "a")
    first = min(t["started"] for t in http.job_tasks(child["id"]))
    # Through the held polls: no polling interval between the two (workers hold
    # their pull up to 25 s, so a missed wakeup would show as seconds here).
    assert 0 <= first - parent_task["finished"] < 1.0, (parent_task, first)
    assert job(http, child["id"])["waiting_reason"] is None

    missing = http.request("POST", "/jobs", {**_body(), "depends_on": [99999]})
    assert missing.status == 422 and "job 99999 does not exist" in missing.text


def _body() -> dict[str, Any]:
    settings = {"argv": [sys.executable, "-c", "pass"], "frame_start": 1, "frame_end": 1}
    return {"name": "py", "type": "command", "settings": settings}


def test_a_job_waits_with_a_message_when_its_parent_fails(farm: Farm) -> None:
    farm.start_manager("--max-attempts", "1")
    farm.add_worker("a")
    http = farm.http
    parent = python_job(http, "raise SystemExit(3)")
    child = python_job(http, "pass", depends_on=[parent["id"]])
    wait_until(lambda: job(http, parent["id"])["status"] == "failed", 30, "the parent to fail")
    reason = f"waiting for job {parent['id']}, which failed: requeue it, or release this job"
    wait_until(lambda: job(http, child["id"])["waiting_reason"] == reason, 10, "the message")
    assert job(http, child["id"])["status"] == "queued"
    assert all(t["status"] == "queued" for t in http.job_tasks(child["id"]))

    # The wrangler releases the child: it runs without its parent.
    released = http.post(f"/jobs/{child['id']}/actions", {"action": "release"})
    assert released["waiting_reason"] is None
    wait_until(lambda: completed(http, child["id"]), 30, "the released child")


def test_requeueing_the_failed_parent_lets_the_child_follow_it(farm: Farm, tmp_path: Path) -> None:
    farm.start_manager("--max-attempts", "1")
    farm.add_worker("a")
    http = farm.http
    flag = tmp_path / "fixed"
    # Fails until the flag file exists: the wrangler "fixes" it, then requeues.
    script = f"import os, sys; sys.exit(0 if os.path.exists({str(flag)!r}) else 1)"
    parent = python_job(http, script)
    child = python_job(http, "pass", depends_on=[parent["id"]])
    wait_until(lambda: job(http, parent["id"])["status"] == "failed", 30, "the parent to fail")
    flag.write_text("ok")
    http.post(f"/jobs/{parent['id']}/actions", {"action": "requeue"})
    wait_until(lambda: completed(http, child["id"]), 30, "the child after the parent's requeue")
    assert completed(http, parent["id"])
