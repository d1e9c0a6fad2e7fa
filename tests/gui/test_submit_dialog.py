"""The Submit dialog reads the .blend (real Blender builds a 1-12 scene), warns when the
file is not where workers look, and says what is wrong in words, after a field is
left, in a line that does not move the form (issue 18, points 2 and 7)."""

from __future__ import annotations

import pytest

from tests.blender_scene import make_scene
from tests.gui.helpers import running_window, until


@pytest.mark.timeout(90)
def test_submit_reads_the_blends_range_and_warns_of_a_missing_file(qloop, qtbot, tmp_path) -> None:
    blend = make_scene(tmp_path / "sc010_short.blend", frames=12)

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (_manager, window):
            dialog = window.open_submit()
            # Nothing typed yet: no reason shows, though the form is not complete.
            assert dialog.validate()
            assert all(label.text() == "" for label in dialog.errors.values())

            dialog.filepath.setText(str(blend))
            await until(lambda: dialog.blend_info is not None, 10, "the file to be read")
            assert (dialog.frame_start.value(), dialog.frame_end.value()) == (1, 12)
            note = dialog.blend_note.text()
            assert "frames 1-12" in note and "32 x 24 px" in note and "Cycles" in note
            assert dialog.note.text() == "2 tasks"  # chunks of 10: 1-10, 11-12

            # A reason once the field is left, in a line kept for it: nothing moves.
            below = dialog.render_output.mapTo(dialog, dialog.render_output.rect().topLeft())
            dialog.name.clear()
            assert dialog.errors["name"].text() == ""
            dialog.name.editingFinished.emit()
            assert dialog.errors["name"].text() == "give the job a name"
            moved = dialog.render_output.mapTo(dialog, dialog.render_output.rect().topLeft())
            assert moved == below

            dialog.filepath.setText(str(tmp_path / "elsewhere" / "missing.blend"))
            await until(lambda: "Not found" in dialog.blend_note.text(), 10, "the warning")
            assert "workers will look for" in dialog.blend_note.text()
            assert dialog.blend_info is None

            # A command with no program: said in words on Submit, not pydantic's.
            dialog.job_type.setCurrentIndex(dialog.job_type.findData("command"))
            dialog.name.setText("cmd")
            dialog.submit()
            assert dialog.errors["argv"].text() == "enter the program to run, with its arguments"
            assert dialog.submitting is None
            dialog.reject()

    qloop.run_until_complete(scenario())
