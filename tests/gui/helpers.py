"""A real manager (HTTP on loopback, port 0) with its window, on pytest-qt's qasync loop.

Waiting is always done by awaiting: the manager answers on the same loop, so a blocking
sleep in a test would freeze the very server the test talks to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QMenu

from flamenco_gui.farm.service import FarmConfig
from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.gui.table_model import LiveTableModel
from flamenco_gui.gui.table_panel import TablePanel
from flamenco_gui.manager import Manager
from tests.procs import Proc, process_gone, spawn

TOKEN = "gui-test-token"


async def until(predicate: Callable[[], Any], timeout: float, what: str = "condition") -> float:
    """Seconds until predicate() held, letting the loop (and Qt) run meanwhile."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def settings_at(path: Path) -> QSettings:
    return QSettings(str(path), QSettings.Format.IniFormat)


@asynccontextmanager
async def running_window(
    tmp_path: Path, qtbot: Any, config: FarmConfig | None = None
) -> AsyncIterator[tuple[Manager, MainWindow]]:
    manager = Manager(tmp_path / "data", "127.0.0.1", 0, TOKEN, config=config)
    await manager.start()
    window = MainWindow(manager, settings_at(tmp_path / "gui.ini"))
    qtbot.addWidget(window)
    window.show()
    await window.load()
    try:
        yield manager, window
    finally:
        window.quit_now()
        await window.shutdown()
        await manager.stop()


def cell(model: LiveTableModel, obj_id: int, column: str) -> str | None:
    """The text a person reads in `column` of the row showing `obj_id` (None: no row)."""
    row = model.row_of(obj_id)
    if row is None:
        return None
    col = [c.title for c in model.columns].index(column)
    return model.data(model.index(row, col), Qt.ItemDataRole.DisplayRole)


def context_menu(window: MainWindow, panel: TablePanel, obj_id: int) -> QMenu:
    """Right-click the row of `obj_id` as a person would: select it, open its menu."""
    view = panel.view
    view.select_ids([obj_id], obj_id)
    row = view.live_model.row_of(obj_id)
    assert row is not None, f"{obj_id} is not shown"
    view.scrollTo(view.live_model.index(row, 0))
    pos: QPoint = view.visualRect(view.live_model.index(row, 1)).center()
    window.context_menu = None
    view.customContextMenuRequested.emit(pos)
    menu = window.context_menu
    assert menu is not None and menu.isVisible()
    return menu


def choose(menu: QMenu, text: str) -> None:
    """Click the menu entry named `text`."""
    for action in menu.actions():
        if action.text() == text:
            assert action.isEnabled(), f"{text!r} is disabled"
            action.trigger()
            menu.close()
            return
    raise AssertionError(f"no {text!r} in {[a.text() for a in menu.actions()]}")


def start_worker(manager: Manager, tmp_path: Path, name: str) -> Proc:
    args = ["worker", "--manager", f"http://127.0.0.1:{manager.port}", "--token", TOKEN]
    args += ["--name", name, "--work-dir", str(tmp_path / name), "--heartbeat", "1"]
    args += ["--accept", "command"]  # the GUI tests submit `command` jobs
    return spawn(name, args, tmp_path)


def descendants_running(pid: int, marker: str) -> list[int]:
    """Live processes under `pid` whose command line contains `marker`."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if marker in " ".join(child.cmdline()) and not process_gone(child.pid):
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found
