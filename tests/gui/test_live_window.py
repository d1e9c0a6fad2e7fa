"""The window and the HTTP server on one qasync loop: API changes show without refresh."""

from __future__ import annotations

import json

import aiohttp
import pytest

from flamenco_gui.farm.events import Change
from tests.gui.helpers import TOKEN, cell, running_window, until

LIMIT = 0.5  # seconds: a change over the API is in the tables within this


@pytest.mark.timeout(60)
def test_api_changes_show_in_window(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            headers = {"Authorization": f"Bearer {TOKEN}"}
            base = f"http://127.0.0.1:{manager.port}"
            tasks, workers, jobs = window.task_model, window.worker_model, window.job_model
            async with aiohttp.ClientSession(headers=headers) as http:
                settings = {"argv": ["true"], "frame_start": 3, "frame_end": 3}
                body = {
                    "priority": 5,
                    "settings": json.dumps(settings),
                    "task_id": 9,
                    "type": "command",
                    "parser": "generic",
                }
                async with http.post(f"{base}/tasks", json=body) as r:
                    assert r.status == 202
                    task_id = (await r.json())["id"]
                took = await until(lambda: cell(tasks, task_id, "Status") == "queued", 2)
                assert took < LIMIT, f"the new task took {took:.2f} s to show"

                async with http.post(
                    f"{base}/workers", json={"hostname": "node-a", "system": "Linux"}
                ) as r:
                    worker = (await r.json())["node-a"]
                took = await until(lambda: cell(workers, worker["id"], "Name") == "node-a", 2)
                assert took < LIMIT
                async with http.patch(
                    f"{base}/workers/{worker['id']}", json={"status": "available"}
                ) as r:
                    assert (await r.json())["task_id"] == task_id
                took = await until(lambda: cell(tasks, task_id, "Status") == "rendering", 2)
                assert took < LIMIT
                assert cell(tasks, task_id, "Worker") == "node-a"
                took = await until(lambda: cell(workers, worker["id"], "Task") == str(task_id), 2)
                assert took < LIMIT

                async with http.patch(f"{base}/tasks/{task_id}", json={"status": "canceled"}) as r:
                    assert r.status == 204
                took = await until(lambda: cell(tasks, task_id, "Status") == "canceled", 2)
                assert took < LIMIT
                # The worker table followed too: it no longer shows the task.
                await until(lambda: cell(workers, worker["id"], "Task") == "", 2)

                job = {
                    "name": "api-job",
                    "type": "command",
                    "priority": 50,
                    "chunk_size": 2,
                    "settings": {"argv": ["true"], "frame_start": 1, "frame_end": 6},
                }
                async with http.post(f"{base}/jobs", json=job) as r:
                    assert r.status == 201
                    job_id = (await r.json())["id"]
                took = await until(lambda: cell(jobs, job_id, "Name") == "api-job", 2)
                assert took < LIMIT
                job_tasks = lambda: [t for t in tasks.all_rows() if t["job_id"] == job_id]  # noqa: E731
                await until(lambda: len(job_tasks()) == 3, LIMIT, "the job's 3 tasks")
                assert cell(tasks, job_tasks()[0]["id"], "Job") == "api-job"

                async with http.post(
                    f"{base}/jobs/{job_id}/actions", json={"action": "pause"}
                ) as r:
                    assert r.status == 200
                took = await until(lambda: cell(jobs, job_id, "Status") == "paused", 2)
                assert took < LIMIT
                assert all(t["status"] == "paused" for t in job_tasks())

                async with http.delete(f"{base}/jobs/{job_id}") as r:
                    assert r.status in (200, 202, 204)
                took = await until(lambda: jobs.row_of(job_id) is None and not job_tasks(), 2)
                assert took < LIMIT

    qloop.run_until_complete(scenario())


def test_storage_error_banner_shows_and_clears(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            events = manager.service.events
            assert not window.banner.isVisible()
            events.publish(Change("farm", 0, {"storage_error": "database or disk is full"}))
            assert window.banner.isVisible()
            assert "database or disk is full" in window.banner.text()
            # Other farm news (a settings change) leaves the banner alone.
            events.publish(Change("farm", 0, {"settings": manager.service.settings()}))
            assert window.banner.isVisible()
            events.publish(Change("farm", 0, {"storage_error": None}))
            assert not window.banner.isVisible()

    qloop.run_until_complete(scenario())
