"""Death noticed in seconds, said in words: a real worker process SIGKILLed mid-task.

Real manager and worker processes on loopback (tests/procs.py). The worker heartbeats
every second; the manager calls a worker `unresponsive` after 1.5 s of silence and
`offline` after --worker-timeout 8 s. Measured from the kill: unresponsive within three
heartbeat intervals, offline (its task requeued) at worker_timeout ± 2 s, and the task's
history and log say which worker stopped answering, and when.
"""

from __future__ import annotations

import re
import signal
import sys
import time

import psutil
import pytest

from tests.procs import Farm, wait_until

pytestmark = pytest.mark.timeout(90)

HEARTBEAT = 1.0
WORKER_TIMEOUT = 8.0


def test_a_worker_killed_mid_task_is_unresponsive_then_offline_and_the_log_says_why(
    farm: Farm,
) -> None:
    farm.start_manager(
        "--worker-timeout", str(WORKER_TIMEOUT), "--unresponsive-after", str(1.5 * HEARTBEAT)
    )
    worker = farm.add_worker("render-03", "--heartbeat", str(HEARTBEAT))
    http = farm.http
    script = "import time\nfor i in range(600):\n    print('tick', i, flush=True); time.sleep(0.1)"
    argv = [sys.executable, "-c", script, "{frame}"]
    settings = {"argv": argv, "frame_start": 1, "frame_end": 1}
    job = http.post("/jobs", {"name": "py", "type": "command", "settings": settings})
    (task,) = wait_until(
        lambda: [t for t in http.job_tasks(job["id"]) if t["status"] == "rendering"], 30, "start"
    )
    time.sleep(3 * HEARTBEAT)  # it has been rendering and answering for a while
    assert http.get("/workers")["render-03"]["connection"] == "online"
    children = psutil.Process(worker.pid).children(recursive=True)
    killed = time.monotonic()
    worker.stop(signal.SIGKILL)
    for child in children:  # a dead node's render dies with it
        child.kill()

    def connection() -> str:
        return str(http.get("/workers")["render-03"]["connection"])

    wait_until(lambda: connection() != "online", 3 * HEARTBEAT, "unresponsive", interval=0.05)
    unresponsive_after = time.monotonic() - killed
    assert connection() == "unresponsive"
    assert http.get(f"/tasks/{task['id']}")["status"] == "rendering"  # not yet given up

    wait_until(lambda: connection() == "offline", WORKER_TIMEOUT + 4, "offline", interval=0.05)
    offline_after = time.monotonic() - killed
    print(f"unresponsive after {unresponsive_after:.1f} s, offline after {offline_after:.1f} s")
    assert abs(offline_after - WORKER_TIMEOUT) <= 2.0, offline_after
    detail = http.get(f"/tasks/{task['id']}")
    assert detail["status"] == "queued" and detail["worker_id"] is None
    reason = detail["history"][-1]["reason"]
    assert re.fullmatch(r"worker render-03 stopped answering at \d\d:\d\d:\d\d; requeued", reason)
    log = http.request("GET", f"/tasks/{task['id']}/log").text
    assert reason in log, log[-500:]
