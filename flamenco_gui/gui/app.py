"""Runs the manager with its window: Qt and the HTTP server share qasync's loop."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from pathlib import Path
from typing import Any

import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from flamenco_gui.config import DEFAULT_PORT
from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.gui.settings_dialog import saved_port
from flamenco_gui.manager import Manager


async def _serve(manager: Manager, settings: QSettings) -> None:
    """Until the window closes (or SIGTERM/Ctrl+C): the local worker is stopped, then
    the server, while the loop still runs, so in-flight requests (the local worker's
    goodbye among them) finish and the database is closed cleanly."""
    closed = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: closed.set())
    await manager.start()
    window = MainWindow(manager, settings)
    window.closed.connect(closed.set)
    window.show()
    await load_window(window)
    await closed.wait()
    if window.isVisible():  # a signal, not the window, ended it
        window.close()
    window.hide()
    await window.shutdown()
    await manager.stop()


async def load_window(window: MainWindow) -> None:
    """Fill the window's tables with Python's cyclic collector paused, then freeze what
    is alive: a full collection walks every object and took 70-140 ms with 100,000
    tasks loaded (a visible stall, ten times during the load and every few seconds
    after). Frozen objects are still freed by reference counting when they go."""
    gc.disable()
    try:
        await window.load()
    finally:
        gc.freeze()
        gc.enable()


def run_gui(
    data_dir: Path, host: str, port: int, token: str | None, overrides: dict[str, Any]
) -> int:
    running = QApplication.instance()  # typed QCoreApplication; ours is a QApplication
    app = running if isinstance(running, QApplication) else QApplication(sys.argv)
    app.setApplicationName("Flamenco Manager")
    app.setOrganizationName("Flamenco")
    # Closing the window ends _serve; a Qt-side quit would stop the loop under it.
    app.setQuitOnLastWindowClosed(False)
    settings = QSettings()
    if port == DEFAULT_PORT:  # the port chosen in Settings, unless --port says otherwise
        port = saved_port(settings, port)
    manager = Manager(data_dir, host, port, token, overrides=overrides)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(_serve(manager, settings))
    return 0
