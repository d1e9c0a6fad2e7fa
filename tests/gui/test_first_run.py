"""An empty farm says what to do next and the guide goes once there is a worker and a
job; Add a worker hides the token behind Show and says when its code expires; Settings
has the listening address (issue 18, points 10 and 11). A real manager, and a real
worker process started with the very command the guide shows."""

from __future__ import annotations

import asyncio
import shlex

import pytest
from PySide6.QtWidgets import QLineEdit

from flamenco_gui.gui.settings_dialog import HOST_KEY
from tests.gui.helpers import TOKEN, running_window, settings_at, until
from tests.procs import spawn


@pytest.mark.timeout(90)
def test_the_first_run_guide_shows_pairs_a_worker_and_goes(
    qloop, qtbot, tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv("FLAMENCO_TOKEN", raising=False)  # the code alone pairs it

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            guide = window.guide
            assert window.guide_area.isVisible() and guide.isVisible()
            assert guide.worker_mark.text() == "•" and guide.job_mark.text() == "•"
            command = guide.command.text()
            assert "--pair " in command and TOKEN not in command
            assert "until" in guide.code_note.text()

            # Pasted on a render node as shown (here: this checkout's Python).
            args = shlex.split(command)
            args = args[args.index("main.py") + 1 :]
            args += ["--work-dir", str(tmp_path / "node"), "--name", "node-guide"]
            worker = spawn("node-guide", args, tmp_path)
            try:
                await until(lambda: window.worker_model.known() == 1, 30, "the worker")
                await until(lambda: guide.worker_mark.text() == "✓", 2)
                assert window.guide_area.isVisible()  # a job is still to come
                assert not guide.command.isVisible()

                await manager.service.submit_job(
                    name="first", type="command", priority=50, chunk_size=1,
                    settings={"argv": ["true"], "frame_start": 1, "frame_end": 1},
                )  # fmt: skip
                await until(lambda: not window.guide_area.isVisible(), 2, "the guide to go")
            finally:
                await asyncio.to_thread(worker.stop)

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(60)
def test_add_a_worker_hides_the_token_and_settings_has_the_address(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (_manager, window):
            dialog = window.open_add_worker()
            assert dialog.token.echoMode() == QLineEdit.EchoMode.Password
            assert TOKEN not in " ".join(dialog.commands.values())
            dialog.show_token.click()
            assert dialog.token.echoMode() == QLineEdit.EchoMode.Normal
            assert dialog.token.text() == TOKEN
            assert "valid until " in " ".join(
                label.text() for label in dialog.findChildren(type(dialog.copied))
            )
            # Listening on 127.0.0.1: the dialog says where to change it, not a flag.
            assert dialog.warning.isVisible() and "Listen on" in dialog.warning.text()
            dialog.reject()

            prefs = window.open_settings()
            assert prefs.listen_address() == "127.0.0.1"
            prefs.listen.setCurrentIndex(prefs.listen.findData("0.0.0.0"))
            prefs.save()
            assert settings_at(tmp_path / "gui.ini").value(HOST_KEY) == "0.0.0.0"

    qloop.run_until_complete(scenario())


def test_a_saved_address_loses_to_the_host_flag() -> None:
    from flamenco_gui.config import ManagerConfig

    assert ManagerConfig.resolve({}, None, "127.0.0.1").host == "127.0.0.1"
    assert ManagerConfig.resolve({"host": "10.0.0.5"}, None, "127.0.0.1").host == "10.0.0.5"
    assert ManagerConfig.resolve({}, None, None).host == "0.0.0.0"
