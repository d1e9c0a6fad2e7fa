"""Runs the manager with its window: Qt and the HTTP server share qasync's loop."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import qasync
from PySide6.QtWidgets import QApplication

from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.manager import Manager


async def _serve(manager: Manager) -> None:
    """Until the window closes (or SIGTERM/Ctrl+C): the server is stopped while the loop
    still runs, so in-flight requests finish and the database is closed cleanly."""
    closed = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: closed.set())
    await manager.start()
    window = MainWindow(manager.service, manager.url, manager.token.value)
    window.closed.connect(closed.set)
    window.show()
    await closed.wait()
    window.hide()
    await manager.stop()


def run_gui(
    data_dir: Path, host: str, port: int, token: str | None, overrides: dict[str, Any]
) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Flamenco Manager")
    app.setOrganizationName("Flamenco")
    # Closing the window ends _serve; a Qt-side quit would stop the loop under it.
    app.setQuitOnLastWindowClosed(False)
    manager = Manager(data_dir, host, port, token, overrides=overrides)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(_serve(manager))
    return 0
