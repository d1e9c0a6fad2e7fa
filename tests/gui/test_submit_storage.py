"""The Submit dialog's `manager` storage: a real .blend (made by Blender) is packed with
blender-asset-tracer, its files land in this manager's file store, and the job names
them by their paths in the pack; under a path variable's folder, shared is the default."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.blender_scene import make_textured_project
from tests.gui.helpers import running_window, until

pytestmark = [pytest.mark.blender, pytest.mark.timeout(120)]


def test_the_dialog_packs_and_stores_a_manager_job(qloop, qtbot, tmp_path) -> None:
    scene = make_textured_project(tmp_path / "artist", 4, (255, 0, 0), (0, 0, 255))

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            window.submit_action.trigger()
            dialog = window.dialog
            dialog.filepath.setText(str(scene))
            assert dialog.storage_mode == "manager"
            dialog.frame_end.setValue(4)
            dialog.chunk_size.setValue(2)
            assert dialog.submit_button.isEnabled(), dialog.general.text()
            qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
            await until(lambda: not dialog.isVisible(), 30, "the dialog to close")
            jobs = lambda: [j for j in window.job_model.all_rows() if j["name"] == "scene"]  # noqa: E731
            await until(lambda: len(jobs()) == 1, 2, "the job in the table")
            (job,) = jobs()
            stored = manager.service.get_job(job["id"])
            assert stored["storage"] == "manager"
            assert stored["settings"]["filepath"] == "scene.blend"
            assert stored["output"] == str(tmp_path / "data" / "output" / "scene")
            files = manager.store.job_files(job["id"])
            assert {f["path"] for f in files} == {
                "scene.blend", "lib/props.blend", "textures/left.png", "textures/right.png",
            }  # fmt: skip
            for f in files:
                assert (
                    manager.service.files().readable(f["sha256"], None).stat().st_size == f["size"]
                )

            # Under a path variable's folder the workers see the file: shared.
            manager.service.set_path_variables({"projects": {"linux": str(tmp_path)}})
            window.submit_action.trigger()
            dialog = window.dialog
            dialog.filepath.setText(str(scene))
            assert dialog.storage_mode == "shared"
            dialog.reject()

    qloop.run_until_complete(scenario())
