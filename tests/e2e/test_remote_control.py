"""Remote control of workers (issue 16) with real manager and worker processes: stop
after the current task, stop now, restart the agent, shut down (with the power command
injected: a script that records its argv; nothing is ever powered off here)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.procs import Farm, Http, python_job, wait_until

pytestmark = pytest.mark.timeout(180)


def worker(http: Http, name: str) -> dict[str, Any]:
    return http.get("/workers")[name]


def control(http: Http, worker_id: int, action: str, when: str = "after_task") -> Any:
    reply = http.request("POST", f"/workers/{worker_id}/control", {"action": action, "when": when})
    assert reply.status == 200, reply.text
    return reply.json()


def statuses(http: Http, job_id: int) -> list[str]:
    return [t["status"] for t in http.job_tasks(job_id)]


def test_stop_after_the_current_task_lets_it_finish_then_takes_no_more(farm: Farm) -> None:
    farm.start_manager()
    farm.add_worker("w")
    http = farm.http
    wid = worker(http, "w")["id"]
    job = python_job(http, "import time; time.sleep(2)", frames=3)
    wait_until(lambda: statuses(http, job["id"])[0] == "rendering", 20, "the first task")
    shown = control(http, wid, "stop")
    assert shown["control"]["action"] == "stop" and shown["control"]["state"] == "requested"
    # The worker acknowledges at once (its lease watch was woken), while it renders.
    wait_until(
        lambda: (worker(http, "w")["control"] or {}).get("state") == "acknowledged",
        5,
        "the acknowledgement",
    )
    assert statuses(http, job["id"])[0] == "rendering"
    wait_until(lambda: statuses(http, job["id"])[0] == "completed", 20, "the running task")
    wait_until(lambda: worker(http, "w")["control"]["state"] == "done", 10, "stop done")
    time.sleep(2.5)  # a second task would have started by now
    assert statuses(http, job["id"]) == ["completed", "queued", "queued"]
    assert worker(http, "w")["connection"] == "online"

    control(http, wid, "resume")
    wait_until(lambda: http.get(f"/jobs/{job['id']}")["status"] == "completed", 30, "the job")
    assert worker(http, "w")["control"] is None


def test_stop_now_requeues_the_running_task_and_kills_it(farm: Farm, tmp_path: Path) -> None:
    farm.start_manager()
    farm.add_worker("w")
    http = farm.http
    wid = worker(http, "w")["id"]
    out = tmp_path / "finished"
    job = python_job(http, f"import time; time.sleep(3); open({str(out)!r}, 'w')")
    wait_until(lambda: statuses(http, job["id"]) == ["rendering"], 20, "the task to start")
    control(http, wid, "stop", "now")
    assert statuses(http, job["id"]) == ["queued"]  # requeued in the request itself
    wait_until(lambda: worker(http, "w")["control"]["state"] == "done", 10, "stop done")
    (task,) = http.job_tasks(job["id"])
    assert http.get(f"/tasks/{task['id']}")["history"][-1]["outcome"] == "lost"
    time.sleep(3.5)
    assert not out.exists(), "the stopped task kept running"
    assert statuses(http, job["id"]) == ["queued"]


def test_restart_brings_the_same_worker_back(farm: Farm) -> None:
    farm.start_manager()
    proc = farm.add_worker("w")
    http = farm.http
    before = worker(http, "w")
    control(http, before["id"], "restart", "now")
    wait_until(lambda: proc.log().count("starting: manager") == 2, 20, "the agent to restart")
    wait_until(lambda: worker(http, "w")["control"] is None, 20, "restart done")
    assert "restarted at the wrangler's request" in proc.log()
    assert proc.alive()
    after = http.get("/workers")
    assert list(after) == ["w"] and after["w"]["id"] == before["id"]  # same worker, not a new one
    job = python_job(http, "pass")
    wait_until(lambda: http.get(f"/jobs/{job['id']}")["status"] == "completed", 20, "work")
    assert http.job_tasks(job["id"])[0]["worker_id"] == before["id"]


def test_shutdown_runs_the_power_command_only_with_allow_power(farm: Farm, tmp_path: Path) -> None:
    farm.start_manager()
    farm.add_worker("plain")
    record = tmp_path / "power-argv.json"
    # The injected power command: records the argv it was given, powers off nothing.
    script = f"import json, sys; open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))"
    power = json.dumps([sys.executable, "-c", script])
    proc = farm.add_worker("node", "--allow-power", "--power-command", power)
    http = farm.http
    plain = worker(http, "plain")
    assert plain["allow_power"] is False
    refused = http.request(
        "POST", f"/workers/{plain['id']}/control", {"action": "shutdown", "when": "now"}
    )
    assert refused.status == 409 and "--allow-power" in refused.text

    node = worker(http, "node")
    assert node["allow_power"] is True
    control(http, node["id"], "shutdown", "after_task")
    wait_until(lambda: not proc.alive(), 20, "the worker to leave")
    assert proc.popen.returncode == 0
    assert json.loads(record.read_text()) == ["shutdown"]
    after = worker(http, "node")
    assert after["connection"] == "offline" and after["control"] is None
