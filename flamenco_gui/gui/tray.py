"""The tray icon, and the news it gives the wrangler even with the window hidden.

The tray is where the manager lives while its window is hidden (closing the window
offers that, gui/quit_guard.py): its menu shows the window, pauses or resumes the farm,
and quits (with the same question as closing). Job events carry the job's status; a
job that completes, fails or is canceled is announced once; so is a worker that stops
answering or is given up on, and the farm going idle (nothing rendering or queued any
more after something was). News goes through the tray when the desktop has one, and
always to the status bar. Statuses known at start-up are not announced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from flamenco_gui.farm.events import Change

ANNOUNCED = ("completed", "failed", "canceled")
BUSY = ("queued", "rendering")


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
    def __init__(
        self,
        window: QWidget,
        status: Callable[[str], None],
        actions: Sequence[QAction | None] = (),
    ) -> None:
        super().__init__(window)
        self.window = window
        self.status = status
        self.sent: list[tuple[str, str]] = []  # (title, text): what was announced
        self._last: dict[int, str] = {}
        self._busy: set[int] = set()  # jobs queued or rendering
        self._connections: dict[int, str] = {}  # worker id -> connection last seen
        # Whether the desktop shows tray icons: without one, hiding the window would
        # leave no way back to it, so closing does not offer it.
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray = QSystemTrayIcon(app_icon(), self)
        self.tray.setToolTip("Flamenco Manager")
        self.menu = QMenu(window)
        self.menu.addAction("Show the window", self.show_window)
        for action in actions:
            self.menu.addSeparator() if action is None else self.menu.addAction(action)
        self.tray.setContextMenu(self.menu)
        self.tray.activated.connect(lambda _reason: self.show_window())
        if self.available:
            self.tray.show()

    def know(self, job_id: int, status: str) -> None:
        """A status seen at start-up: the baseline, not news."""
        self._last.setdefault(job_id, status)
        if status in BUSY:
            self._busy.add(job_id)

    def on_worker(self, change: Change) -> None:
        """A worker that stops answering, or is given up on, is news for the wrangler."""
        if change.row is None:
            self._connections.pop(change.id, None)
            return
        if "connection" not in change.row:
            return  # a partial change of other columns (tray.on_change takes those)
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
        """Event-bus subscriber; it takes partial changes (job changes are whole)."""
        if change.kind == "worker":
            self.on_worker(change)
            return
        if change.kind != "job":
            return
        if change.row is None:
            self._last.pop(change.id, None)
            self._idle_after(change.id, "")
            return
        status = change.row.get("status") or ""
        before = self._last.get(change.id)
        self._last[change.id] = status
        if status in ANNOUNCED and before is not None and before != status:
            name = change.row.get("name") or f"job {change.id}"
            self.notify(f"Job {status}", f"{name} (job {change.id}) {status}.", status == "failed")
        self._idle_after(change.id, status)

    def _idle_after(self, job_id: int, status: str) -> None:
        """The last busy job stopped being busy: the farm has nothing left to do."""
        was_busy = bool(self._busy)
        if status in BUSY:
            self._busy.add(job_id)
        else:
            self._busy.discard(job_id)
        if was_busy and not self._busy:
            self.notify("Farm idle", "Nothing is rendering or queued any more.", False)

    def notify(self, title: str, text: str, bad: bool) -> None:
        self.sent.append((title, text))
        self.status(text)
        if self.available:
            icon = (
                QSystemTrayIcon.MessageIcon.Warning
                if bad
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.tray.showMessage(title, text, icon, 10_000)

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
