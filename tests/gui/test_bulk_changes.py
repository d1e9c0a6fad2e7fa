"""A job action over thousands of tasks reaches the window as a few set-based events
(one per slice), not one per task, and the tables show the result: a real manager,
its window offscreen, the action clicked in the window."""

from __future__ import annotations

import pytest

from flamenco_gui.farm.events import Change
from flamenco_gui.farm.task_state_machine import SLICE
from tests.gui.helpers import cell, running_window, until

TASKS = 3 * SLICE + 7  # several slices (their size follows their cost), the last short


@pytest.mark.timeout(120)
def test_a_big_job_action_arrives_as_one_event_per_slice(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            settings = {"argv": ["true"], "frame_start": 1, "frame_end": TASKS}
            job = await service.submit_job(
                name="big", type="command", settings=settings, priority=50, chunk_size=1
            )
            await until(lambda: window.task_model.known() == TASKS, 10, "the tasks shown")
            await until(lambda: window.job_model.row_of(job["id"]) is not None, 2, "the job")
            seen: list[Change] = []
            unsubscribe = service.events.subscribe(seen.append)

            window.jobs.view.select_ids([job["id"]], job["id"])
            await until(window.farm_actions.cancel_job.isEnabled, 2, "Cancel enabled")
            window.farm_actions.cancel_job.trigger()
            await until(
                lambda: cell(window.job_model, job["id"], "Status") == "canceled", 10, "canceled"
            )
            await until(
                lambda: all(t["status"] == "canceled" for t in window.task_model.all_rows()),
                5,
                "every task row canceled",
            )
            sets = [c for c in seen if c.kind == "tasks"]
            sizes = [len(c.row["ids"]) for c in sets if c.row]
            assert sum(sizes) == TASKS and 2 <= len(sizes) <= TASKS // 50, sizes
            assert not [c for c in seen if c.kind == "task"], "no per-task events"
            assert all(c.row and c.row["fields"]["status"] == "canceled" for c in sets)
            row = window.task_model.get(sets[0].row["ids"][0])
            assert row is not None and row["error"] == "job cancel by the wrangler"

            # Deleted: gone from both tables, again a set per slice.
            seen.clear()
            await service.delete_job(job["id"])
            await until(lambda: window.task_model.known() == 0, 10, "the task rows removed")
            await until(lambda: window.job_model.known() == 0, 5, "the job row removed")
            sizes = [len(c.row["ids"]) for c in seen if c.kind == "tasks" and c.row]
            assert sum(sizes) == TASKS and 2 <= len(sizes) <= TASKS // 50, sizes
            unsubscribe()

    qloop.run_until_complete(scenario())
