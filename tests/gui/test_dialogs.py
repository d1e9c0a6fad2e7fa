"""Settings (stored farm settings, the port for the next start, token rotation), the
add-a-worker commands, and the submit dialog's validation by the compilers' models."""

from __future__ import annotations

import aiohttp
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from flamenco_gui.farm.settings import BY_KEY
from flamenco_gui.gui.add_worker_dialog import worker_commands
from flamenco_gui.gui.settings_dialog import PORT_KEY
from flamenco_gui.gui.submit_dialog import settings_errors, task_count
from tests.gui.helpers import TOKEN, running_window, settings_at


@pytest.mark.timeout(60)
def test_settings_are_stored_and_the_token_rotates(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            dialog = window.open_settings()
            assert dialog.fields["max_attempts"].value() == manager.service.config.max_attempts
            low, high = BY_KEY["task_timeout"].low, BY_KEY["task_timeout"].high
            assert dialog.fields["task_timeout"].minimum() == low
            assert dialog.fields["task_timeout"].maximum() == high
            dialog.fields["max_attempts"].setValue(5)
            dialog.fields["worker_timeout"].setValue(45)
            dialog.port.setValue(7788)

            dialog.rotate.click()
            box = dialog.confirm_box
            assert isinstance(box, QMessageBox) and box.isVisible()
            box.button(QMessageBox.StandardButton.Yes).click()
            new_token = manager.token.value
            assert new_token != TOKEN
            assert new_token[:4] in window.token_label.text()
            assert TOKEN[:4] not in window.token_label.text()

            dialog.save()
            assert not dialog.isVisible()
            assert manager.service.settings()["max_attempts"] == 5
            assert manager.service.settings()["worker_timeout"] == 45
            assert int(settings_at(tmp_path / "gui.ini").value(PORT_KEY)) == 7788
            assert manager.port != 7788  # the running server keeps its port

            base = f"http://127.0.0.1:{manager.port}/workers"
            async with aiohttp.ClientSession() as http:
                old = {"Authorization": f"Bearer {TOKEN}"}
                async with http.get(base, headers=old) as r:
                    assert r.status == 401
                async with http.get(base, headers={"Authorization": f"Bearer {new_token}"}) as r:
                    assert r.status == 200

            # Kept in the farm's database for the next start.
            assert manager.store.get_setting("max_attempts") == 5

    qloop.run_until_complete(scenario())


def test_add_worker_shows_each_systems_command_with_copy(qtbot, tmp_path) -> None:
    from flamenco_gui.gui.add_worker_dialog import AddWorkerDialog

    url, token = "http://192.168.1.10:7777", "tok-en_123"
    dialog = AddWorkerDialog(url, token)
    qtbot.addWidget(dialog)
    for system in ("Linux", "Windows", "macOS"):
        shown = dialog.fields[system].text()
        assert shown == dialog.commands[system]
        assert f"worker --manager {url} --token {token}" in shown
        dialog.copy_buttons[system].click()
        assert QGuiApplication.clipboard().text() == shown
    assert dialog.commands["Windows"].startswith(".venv\\Scripts\\python.exe main.py")
    assert not dialog.warning.isVisible()
    paired = AddWorkerDialog(url, token, code="7KQM-V3XD", farm_id="AB12-CD34-EF56-7890")
    qtbot.addWidget(paired)
    assert f"worker --manager {url} --pair 7KQM-V3XD" in paired.fields["Linux"].text()
    assert token not in paired.fields["Linux"].text()  # no farm token on a render node
    loop_only = AddWorkerDialog("http://127.0.0.1:7777", token)
    qtbot.addWidget(loop_only)
    loop_only.show()
    assert loop_only.warning.isVisible()


def test_worker_commands_quote_what_a_shell_would_split() -> None:
    cmds = worker_commands("http://h:1", "a b$c", frozen=True)
    assert cmds["Linux"] == "./flamenco worker --manager http://h:1 --token 'a b$c'"
    assert cmds["Windows"] == 'flamenco.exe worker --manager http://h:1 --token "a b$c"'


def test_submit_validation_uses_the_compilers_models() -> None:
    ok = {"filepath": "/p/a.blend", "render_output": "/r/####", "format": "PNG"}
    assert settings_errors("blender_render", {**ok, "frame_start": 1, "frame_end": 9}) == {}
    errors = settings_errors(
        "blender_render", {**ok, "render_output": "", "frame_start": 9, "frame_end": 1}
    )
    assert errors["render_output"].startswith("required: where the frames go")
    # The two-field rule, reported at once, in the form's words.
    assert errors["frame_end"] == "the last frame comes before the first"
    assert "format" in settings_errors("blender_render", {**ok, "format": "GIF"})
    no_argv = settings_errors("command", {"argv": [], "frame_start": 1, "frame_end": 1})
    assert no_argv == {"argv": "enter the program to run, with its arguments"}  # not pydantic's
    assert task_count(1, 100, 10) == 10
    assert task_count(1, 101, 10) == 11


@pytest.mark.timeout(60)
def test_the_windows_add_worker_shows_a_pairing_code_the_manager_accepts(
    qloop, qtbot, tmp_path
) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            dialog = window.open_add_worker()
            command = dialog.commands["Linux"]
            assert "--pair " in command and TOKEN not in command
            code = command.split("--pair ")[1].split()[0]
            assert manager.pairing.redeem(code, "127.0.0.1")  # a live code, used once
            assert not manager.pairing.redeem(code, "127.0.0.1")
            assert manager.farm_id in window.farm_label.text()

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(60)
def test_a_job_no_worker_accepts_says_so_in_the_window(qloop, qtbot, tmp_path) -> None:
    from tests.gui.helpers import cell, until

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            manager.service.register_worker(
                "strict", "Linux", uuid="00000000-0000-4000-8000-000000000001",
                accepts=["blender_render", "ffmpeg"],
            )  # fmt: skip
            job = {"name": "cmd", "type": "command", "settings": {
                "argv": ["true"], "frame_start": 1, "frame_end": 1}}  # fmt: skip
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with (
                aiohttp.ClientSession(headers=headers) as http,
                http.post(f"{manager.url}/jobs", json=job) as r,
            ):
                assert r.status == 201
                job_id = (await r.json())["id"]
            want = "no worker accepts command jobs"
            await until(lambda: cell(window.job_model, job_id, "Waiting for") == want, 3)

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(60)
def test_the_viewer_token_is_shown_masked_and_rotates(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            dialog = window.open_settings()
            old = manager.viewer_token.value
            assert old[:4] in dialog.viewer_label.text() and old not in dialog.viewer_label.text()
            dialog.rotate_viewer.click()
            new = manager.viewer_token.value
            assert new != old and new[:4] in dialog.viewer_label.text()
            assert (tmp_path / "data" / "viewer-token").read_text().strip() == new

    qloop.run_until_complete(scenario())
