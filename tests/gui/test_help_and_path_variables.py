"""Help > Install Blender add-on… writes the add-on Blender installs; the settings
dialog edits the farm's path variables through the service and shows its refusals."""

from __future__ import annotations

import zipfile

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from flamenco_gui import __version__
from tests.gui.helpers import running_window, settings_at, until


def _menu_action(window, menu_title: str, text: str):
    for menu_action in window.menuBar().actions():
        if menu_action.text() == menu_title:
            for action in menu_action.menu().actions():
                if action.text() == text:
                    return action
    raise AssertionError(f"no {menu_title} > {text}")


@pytest.mark.timeout(60)
def test_help_menu_writes_the_addon_and_tells_where(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            # Through the menu and its (non-blocking) save dialog, as a person would.
            _menu_action(window, "&Help", "Install Blender add-on…").trigger()
            dialog = window.dialog
            assert isinstance(dialog, QFileDialog) and dialog.isVisible()
            assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
            dest = tmp_path / "out" / "my_addon.zip"
            dest.parent.mkdir()
            dialog.selectFile(str(dest))
            dialog.accept()
            await until(dest.exists, 5, "the zip written")
            await until(lambda: str(dest) in window.statusBar().currentMessage(), 2)
            with zipfile.ZipFile(dest) as zf:
                names = zf.namelist()
                assert "flamenco_submit/__init__.py" in names
                assert "bl_info" in zf.read("flamenco_submit/__init__.py").decode()
            assert manager.url in window.statusBar().currentMessage()
            # The next dialog opens where this one saved.
            assert settings_at(tmp_path / "gui.ini").value("addon/last_dir") == str(dest.parent)

            # The method the action calls, directly; and a place that cannot be written.
            second = tmp_path / "second.zip"
            assert await window.export_addon(second) == second
            assert zipfile.ZipFile(second).testzip() is None
            missing = tmp_path / "no" / "such" / "dir" / "a.zip"
            assert await window.export_addon(missing) is None
            message = window.statusBar().currentMessage()
            assert message.startswith("Could not write") and str(missing) in message

            _menu_action(window, "&Help", "About Flamenco Manager").trigger()
            about = window.dialog
            assert isinstance(about, QMessageBox) and about.isVisible()
            assert __version__ in about.text()
            about.close()

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(60)
def test_settings_edit_path_variables_and_show_refusals(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            service.set_path_variables({"render": {"linux": "/mnt/render", "windows": "R:\\"}})
            dialog = window.open_settings()
            table = dialog.variables
            headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
            assert headers == ["Name", "Linux", "Windows", "macOS"]
            assert table.rowCount() == 1
            assert [table.item(0, c).text() for c in range(4)] == [
                "render",
                "/mnt/render",
                "R:\\",
                "",
            ]

            # Add a row with the button and type into it; fill in the missing macOS form.
            dialog.add_row.click()
            assert table.rowCount() == 2
            for col, text in enumerate(["projects", "/mnt/projects", "P:\\", "/Volumes/projects"]):
                table.item(1, col).setText(text)
            table.item(0, 3).setText("/Volumes/render")
            dialog.add_row.click()  # left empty: ignored, not refused
            dialog.save()
            assert not dialog.isVisible()
            assert service.path_variables() == {
                "render": {"linux": "/mnt/render", "windows": "R:\\", "darwin": "/Volumes/render"},
                "projects": {
                    "linux": "/mnt/projects",
                    "windows": "P:\\",
                    "darwin": "/Volumes/projects",
                },
            }
            assert manager.store.get_setting("path_variables") == service.path_variables()

            # A name the service refuses: its reason under the table, nothing stored.
            dialog = window.open_settings()
            table = dialog.variables
            assert table.rowCount() == 2
            before = dict(service.path_variables())
            row = dialog.add_variable("bad name", {"linux": "/mnt/bad"})
            dialog.save()
            assert dialog.isVisible()
            assert dialog.variables_error.isVisible()
            assert "bad name" in dialog.variables_error.text()
            assert "letters, digits" in dialog.variables_error.text()
            assert table.currentRow() == row  # the row it names is selected
            assert service.path_variables() == before

            # A name given twice would drop a row: refused in the dialog.
            table.item(row, 0).setText("render")
            dialog.save()
            assert dialog.isVisible() and "twice" in dialog.variables_error.text()
            assert service.path_variables() == before

            # Removing rows with the button stores what is left.
            table.selectRow(row)
            dialog.remove_row.click()
            table.selectRow(0)
            dialog.remove_row.click()
            assert table.rowCount() == 1
            dialog.save()
            assert not dialog.isVisible()
            # Rows are listed by name: "projects" was the first.
            assert service.path_variables() == {
                "render": {"linux": "/mnt/render", "windows": "R:\\", "darwin": "/Volumes/render"}
            }

    qloop.run_until_complete(scenario())
