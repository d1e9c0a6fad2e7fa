"""Tells the wrangler when a job completes or fails, even with the window minimised.

Job events carry the job's status; a job whose status changes to completed or failed
is announced once, through the system tray when the desktop has one, and always in the
status bar. Statuses known at start-up are not announced.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from flamenco_gui.farm.events import Change

ANNOUNCED = ("completed", "failed")


def app_icon() -> QIcon:
    """A plain orange disc with an F: no image files to ship or find."""
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#e87d0d"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(2, 2, 60, 60)
    painter.setPen(QColor("white"))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(38)
    painter.setFont(font)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "F")
    painter.end()
    return QIcon(pixmap)


class JobNotifier(QObject):
    def __init__(self, window: QWidget, status: Callable[[str], None]) -> None:
        super().__init__(window)
        self.window = window
        self.status = status
        self.sent: list[tuple[str, str]] = []  # (title, text): what was announced
        self._last: dict[int, str] = {}
        self._connections: dict[int, str] = {}  # worker id -> connection last seen
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("Flamenco Manager")
            menu = QMenu(window)
            menu.addAction("Show the window", self._show_window)
            self.tray.setContextMenu(menu)
            self.tray.activated.connect(lambda _reason: self._show_window())
            self.tray.show()

    def know(self, job_id: int, status: str) -> None:
        """A status seen at start-up: the baseline, not news."""
        self._last.setdefault(job_id, status)

    def on_worker(self, change: Change) -> None:
        """A worker that stops answering, or is given up on, is news for the wrangler."""
        if change.row is None:
            self._connections.pop(change.id, None)
            return
        connection = change.row.get("connection") or ""
        before = self._connections.get(change.id)
        self._connections[change.id] = connection
        if before == connection or connection not in ("unresponsive", "offline"):
            return
        name = change.row.get("hostname") or f"worker {change.id}"
        if connection == "unresponsive":
            self.notify("Worker not answering", f"{name} stopped answering.", True)
        elif before == "unresponsive":  # timed out (a goodbye goes straight to offline)
            self.notify("Worker offline", f"{name} timed out; its task was requeued.", True)

    def on_change(self, change: Change) -> None:
        if change.kind == "worker":
            self.on_worker(change)
            return
        if change.kind != "job":
            return
        if change.row is None:
            self._last.pop(change.id, None)
            return
        status = change.row.get("status") or ""
        before = self._last.get(change.id)
        self._last[change.id] = status
        if status in ANNOUNCED and before is not None and before != status:
            name = change.row.get("name") or f"job {change.id}"
            self.notify(f"Job {status}", f"{name} (job {change.id}) {status}.", status == "failed")

    def notify(self, title: str, text: str, bad: bool) -> None:
        self.sent.append((title, text))
        self.status(text)
        if self.tray is not None:
            icon = (
                QSystemTrayIcon.MessageIcon.Warning
                if bad
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.tray.showMessage(title, text, icon, 10_000)

    def _show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
