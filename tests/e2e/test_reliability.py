"""Farm reliability with real processes: killed workers, stale workers, hung renders,
and a manager SIGKILLed and restarted twenty times mid-job.

Tasks are `command` jobs running small Python scripts, so these tests need no Blender
and each takes seconds. Timeouts are set small through the manager's own flags.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.procs import Farm, Http, process_gone, python_job, wait_until

pytestmark = pytest.mark.timeout(240)


def py_job(http: Http, script: str, frames: int = 1, out: Path | None = None) -> dict[str, Any]:
    """A job running `python -c script <out>/frame-<n>` once per frame."""
    return python_job(http, script, frames, args=(f"{out}/frame-{{frame}}" if out else "{frame}",))


def task_of(http: Http, job_id: int) -> dict[str, Any]:
    (task,) = http.job_tasks(job_id)
    return http.get(f"/tasks/{task['id']}")


def outcomes(task: dict[str, Any]) -> list[str | None]:
    return [h["outcome"] for h in task["history"]]


def test_a_killed_worker_loses_its_task_to_another(farm: Farm) -> None:
    farm.start_manager("--worker-timeout", "3")
    workers = {n: farm.add_worker(n, "--heartbeat", "1") for n in ("node-a", "node-b")}
    http = farm.http
    script = "import time\nfor i in range(30):\n    print('tick', i, flush=True); time.sleep(0.1)"
    job = py_job(http, script)
    task = wait_until(
        lambda: (t := task_of(http, job["id"]))["status"] == "rendering" and t, 20, "rendering"
    )
    owner = next(n for n, w in http.get("/workers").items() if w["id"] == task["worker_id"])
    children = psutil.Process(workers[owner].pid).children(recursive=True)
    workers[owner].stop(signal.SIGKILL)
    for child in children:  # what a dead node's own processes would do: nothing more
        child.kill()

    done = wait_until(
        lambda: (t := task_of(http, job["id"]))["status"] == "completed" and t, 60, "completion"
    )
    survivor = next(n for n in workers if n != owner)
    assert done["worker_id"] == http.get("/workers")[survivor]["id"]
    assert outcomes(done) == ["lost", "completed"]  # exactly one completion recorded
    assert done["history"][0]["reason"].startswith(f"worker {owner} stopped answering at ")
    assert http.get("/workers")[owner]["connection"] == "offline"


def test_a_stale_worker_cannot_overwrite_the_new_owner(farm: Farm, tmp_path: Path) -> None:
    farm.start_manager("--worker-timeout", "3")
    workers = {n: farm.add_worker(n, "--heartbeat", "1") for n in ("node-a", "node-b")}
    http = farm.http
    script = "import sys, time\nprint('working', flush=True); time.sleep(2.5)\nprint('done')"
    job = py_job(http, script)
    task = wait_until(
        lambda: (t := task_of(http, job["id"]))["status"] == "rendering" and t, 20, "rendering"
    )
    stale = next(n for n, w in http.get("/workers").items() if w["id"] == task["worker_id"])
    os.kill(workers[stale].pid, signal.SIGSTOP)  # cut off: it cannot talk, its render goes on
    try:
        done = wait_until(
            lambda: (t := task_of(http, job["id"]))["status"] == "completed" and t, 60, "requeue"
        )
    finally:
        os.kill(workers[stale].pid, signal.SIGCONT)
    owner = done["worker_id"]
    assert owner != task["worker_id"]
    # The stale worker wakes up, finds its render finished and reports it: refused.
    wait_until(lambda: "refused" in workers[stale].log(), 20, "the stale worker's 409")
    time.sleep(1)
    after = task_of(http, job["id"])
    assert after["worker_id"] == owner and after["status"] == "completed"
    assert outcomes(after).count("completed") == 1
    assert outcomes(after)[0] == "lost"
    # And it is back in service afterwards.
    wait_until(lambda: http.get("/workers")[stale]["connection"] == "online", 20, "back online")


def test_a_hung_render_is_killed_retried_then_failed(farm: Farm) -> None:
    farm.start_manager("--task-timeout", "2", "--max-attempts", "2")
    for n in ("node-a", "node-b"):
        farm.add_worker(n, "--heartbeat", "1")
    http = farm.http
    marker = f"hang-{os.getpid()}-{random.randrange(10**9)}"
    job = py_job(http, f"import time  # {marker}\ntime.sleep(60)")

    def hung_pids() -> set[int]:
        return {
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if any(marker in part for part in (p.info["cmdline"] or []))
        }

    first = wait_until(hung_pids, 20, "the hung process to start")
    failed = wait_until(
        lambda: (t := task_of(http, job["id"]))["status"] == "failed" and t, 60, "the failure"
    )
    assert outcomes(failed) == ["failed", "failed"]
    assert all("no output or progress for 2 s" in h["reason"] for h in failed["history"])
    assert failed["attempts"] == 2
    # Two different workers tried it, and each hung process was killed.
    assert len({h["worker_id"] for h in failed["history"]}) == 2
    wait_until(lambda: all(process_gone(pid) for pid in first), 5, "the first hung process to end")
    wait_until(lambda: not hung_pids(), 10, "every hung process to end")
    assert http.get(f"/jobs/{job['id']}")["status"] == "failed"


def test_twenty_manager_kills_lose_and_double_nothing(farm: Farm, tmp_path: Path) -> None:
    farm.start_manager("--worker-timeout", "20")
    for n in ("node-a", "node-b", "node-c"):
        farm.add_worker(n, "--heartbeat", "1")
    http = farm.http
    out = tmp_path / "frames"
    out.mkdir()
    frames = 120
    script = "import sys, time\ntime.sleep(0.05)\nopen(sys.argv[1], 'a').write('x')\nprint('ok')"
    job = py_job(http, script, frames=frames, out=out)
    rng = random.Random(7)
    for _ in range(20):
        time.sleep(rng.uniform(0.2, 0.8))
        farm.kill_manager()
        farm.start_manager("--worker-timeout", "20")
    final = wait_until(
        lambda: (j := http.get(f"/jobs/{job['id']}"))["status"] in ("completed", "failed") and j,
        180,
        "the job to finish",
    )
    assert final["status"] == "completed", final["task_counts"]
    assert final["task_counts"] == {"completed": frames}
    for task in http.job_tasks(final["id"]):
        history = http.get(f"/tasks/{task['id']}")["history"]
        assert outcomes({"history": history}).count("completed") == 1, history
    written = sorted(int(p.name.split("-")[1]) for p in out.iterdir())
    assert written == list(range(1, frames + 1))  # no frame missing
    assert all(proc.alive() for proc in farm.workers.values())  # nobody restarted them
