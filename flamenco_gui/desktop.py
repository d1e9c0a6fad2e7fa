"""The manager with its window: Qt and the HTTP server share qasync's loop.

The composition root of the desktop program: it builds the Manager (store, farm,
server) and hands the window only the narrow handle it needs (gui/handle.py), so
nothing in gui/ reaches the store.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from flamenco_gui.config import ManagerConfig
from flamenco_gui.gui.app import load_window
from flamenco_gui.gui.event_loop import FarmEventLoop
from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.gui.settings_dialog import HOST_KEY, PORT_KEY
from flamenco_gui.manager import Manager


def _application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv)
    app.setApplicationName("Flamenco Manager")
    app.setOrganizationName("Flamenco")
    return app


def saved_port() -> int | None:
    """The port chosen in the window's Settings, if any (a --port flag wins over it)."""
    _application()
    value = QSettings().value(PORT_KEY)
    return None if value is None else int(str(value))  # the INI backend keeps text


def saved_host() -> str | None:
    """The address chosen in Settings' *Listen on*, if any (a --host flag wins)."""
    _application()
    value = QSettings().value(HOST_KEY)
    return None if value is None else str(value)


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
    window.quit_now()  # a signal ended it: no question (a no-op once the window closed)
    window.hide()
    await window.shutdown()
    await manager.stop()


def run_desktop(config: ManagerConfig) -> int:
    app = _application()
    # Closing the window ends _serve; a Qt-side quit would stop the loop under it.
    app.setQuitOnLastWindowClosed(False)
    manager = Manager.from_config(config)
    loop = FarmEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(_serve(manager, QSettings()))
    return 0
