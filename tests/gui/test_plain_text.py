"""User text is plain text: a job named like an <img> tag shows as those characters and
loads no file (issue 18, point 15). A real manager; the job is submitted over its API."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from tests.gui.helpers import running_window, until


@pytest.mark.timeout(60)
def test_a_job_name_with_markup_is_shown_as_text(qloop, qtbot, tmp_path) -> None:
    picture = tmp_path / "secret.png"
    image = QImage(400, 400, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    assert image.save(str(picture))
    name = f'<img src="file://{picture}" width=400 height=400>'

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            job = await manager.service.submit_job(
                name=name,
                type="command",
                priority=50,
                chunk_size=1,
                settings={"argv": ["true"], "frame_start": 1, "frame_end": 1},
            )
            await until(lambda: window.job_model.row_of(job["id"]) is not None, 5, "the job")
            window.jobs.view.select_ids([job["id"]], job["id"])
            # A long title is cut short; the tooltip has it whole (escaped, shown as text).
            await until(lambda: "&lt;img" in window.tasks.title.toolTip(), 5, "the task title")
            assert window.tasks.title.text().startswith("Tasks of <img")
            (task,) = [t for t in window.task_model.all_rows() if t["job_id"] == job["id"]]
            await until(lambda: window.task_model.row_of(task["id"]) is not None, 5, "the task")
            window.tasks.view.select_ids([task["id"]], task["id"])
            await until(lambda: name in window.log.title.text(), 5, "the log title")
            await until(lambda: name in window.preview.title.text(), 5, "the preview title")
            for label in (window.tasks.title, window.log.title, window.preview.title):
                assert label.textFormat() == Qt.TextFormat.PlainText
                # A rendered <img> would make the label 400 px tall.
                assert label.sizeHint().height() < 100, label.text()
            window.farm_actions.delete_job.trigger()
            box = window.farm_actions.dialog
            assert box is not None and name in box.text()
            assert box.textFormat() == Qt.TextFormat.PlainText
            box.reject()

    qloop.run_until_complete(scenario())
