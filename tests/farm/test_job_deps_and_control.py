"""Jobs that wait for jobs, remote control and sleep schedules as FarmService rules, on
a real SQLite file without HTTP (the e2e tests drive them with real workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamenco_gui.farm.errors import Conflict
from flamenco_gui.farm.service import FarmConfig, FarmService
from flamenco_gui.farm.states import WorkerReport
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.task_logs import TaskLogs

A = WorkerReport.AVAILABLE


def _service(tmp_path: Path) -> FarmService:
    return FarmService(
        Store(tmp_path / "farm.sqlite"),
        TaskLogs(tmp_path / "logs"),
        Previews(tmp_path / "previews"),
        FarmConfig(),
    )


def _job(service: FarmService, **extra: object) -> dict:
    settings = {"argv": ["echo", "{frame}"], "frame_start": 1, "frame_end": 1}
    return service.create_job(
        name="j", type="command", settings=settings, priority=50, chunk_size=1, **extra
    )


async def test_a_canceled_parent_keeps_its_child_waiting_and_says_so(tmp_path: Path) -> None:
    s = _service(tmp_path)
    parent = _job(s)
    child = _job(s, depends_on=[parent["id"]])
    await s.job_action(parent["id"], "cancel")
    reason = s.get_job(child["id"])["waiting_reason"]
    assert reason == (
        f"waiting for job {parent['id']}, which was canceled: requeue it, or release this job"
    )
    w = s.register_worker("w", "Linux", accepts=["command"])[0]["id"]
    assert await s.worker_report(w, A) == (None, None)  # nothing may start
    await s.job_action(child["id"], "release")
    task_id, _ = await s.worker_report(w, A)
    assert task_id is not None and s.get_task(task_id)["job_id"] == child["id"]


async def test_deleting_the_parent_frees_the_child(tmp_path: Path) -> None:
    s = _service(tmp_path)
    parent = _job(s)
    child = _job(s, depends_on=[parent["id"]])
    await s.delete_job(parent["id"])
    assert s.get_job(child["id"])["waiting_reason"] != f"waiting for job {parent['id']}"
    assert not s.get_job(child["id"]).get("waiting")


async def test_a_pending_request_keeps_work_from_the_worker_until_resumed(
    tmp_path: Path,
) -> None:
    s = _service(tmp_path)
    w = s.register_worker("w", "Linux", accepts=["command"])[0]["id"]
    with pytest.raises(Conflict, match="--allow-power"):
        s.control_worker(w, "reboot", "now")
    s.control_worker(w, "stop", "after_task")
    _job(s)
    assert await s.worker_report(w, A) == (None, None)
    control = s.worker_control(w)
    assert control is not None
    s.acknowledge_control(w, control["id"] + 1, "done")  # an old request: ignored
    assert s.worker_control(w)["state"] == "requested"
    s.acknowledge_control(w, control["id"], "done")
    assert s.get_worker(w)["control"]["state"] == "done"  # a stop stays, shown
    s.control_worker(w, "resume", "now")
    assert s.get_worker(w)["control"] is None
    task_id, _ = await s.worker_report(w, A)
    assert task_id is not None
