"""The window and the HTTP server on one qasync loop: API changes show without refresh."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from PySide6.QtCore import Qt

from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.manager import Manager

TOKEN = "gui-test-token"


async def _until(predicate, timeout: float) -> float:
    """Seconds until predicate() held, letting the loop (and Qt) run meanwhile."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def _cell(window: MainWindow, task_id: int, column: str) -> str | None:
    model = window.task_model
    row = model.row_of(task_id)
    if row is None:
        return None
    col = [c.title for c in model.columns].index(column)
    return model.data(model.index(row, col), Qt.ItemDataRole.DisplayRole)


@pytest.mark.timeout(60)
def test_api_changes_show_in_window(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        manager = Manager(tmp_path, "127.0.0.1", 0, TOKEN)
        await manager.start()
        window = MainWindow(manager.service, manager.url, manager.token.value)
        qtbot.addWidget(window)
        window.show()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        base = f"http://127.0.0.1:{manager.port}"
        try:
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
                took = await _until(lambda: _cell(window, task_id, "Status") == "queued", 2)
                assert took < 0.5, f"the new task took {took:.2f} s to show"

                async with http.post(
                    f"{base}/workers", json={"hostname": "node-a", "system": "Linux"}
                ) as r:
                    worker = (await r.json())["node-a"]
                async with http.patch(
                    f"{base}/workers/{worker['id']}", json={"status": "available"}
                ) as r:
                    assert (await r.json())["task_id"] == task_id
                took = await _until(lambda: _cell(window, task_id, "Status") == "rendering", 2)
                assert took < 0.5
                assert _cell(window, task_id, "Worker") == "node-a"

                async with http.patch(f"{base}/tasks/{task_id}", json={"status": "canceled"}) as r:
                    assert r.status == 204
                took = await _until(lambda: _cell(window, task_id, "Status") == "canceled", 2)
                assert took < 0.5
                # The worker table followed too: it no longer shows the task.
                wrow = window.worker_model.row_of(worker["id"])
                assert window.worker_model.row_dict(wrow)["current_task"] is None
        finally:
            window.close()
            await manager.stop()

    qloop.run_until_complete(scenario())
