"""Closing the window stops the farm: with work under way, it asks first.

The window is the manager: closing it (or Ctrl+Q, or Quit in the tray) ends the HTTP
API that every worker talks to. With tasks rendering or queued, the wrangler is asked,
told how many, and may keep the manager running in the tray with the window hidden
(the API keeps answering); with nothing to do the window closes at once. The question
is a non-blocking box, so the farm keeps running while it is open.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

QUIT = "Quit and stop the farm"
TRAY = "Keep running in the tray"


def _tasks(n: int) -> str:
    return f"{n:,} task" if n == 1 else f"{n:,} tasks"


class QuitGuard(QObject):
    def __init__(
        self,
        window: QWidget,
        work: Callable[[], tuple[int, int]],  # (rendering, queued) tasks now
        tray_available: Callable[[], bool],
        quit_now: Callable[[], None],
        to_tray: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self.window = window
        self._work = work
        self._tray_available = tray_available
        self._quit_now = quit_now
        self._to_tray = to_tray
        self.box: QMessageBox | None = None  # the open question (tests answer it)

    def question(self, rendering: int, queued: int) -> str:
        if rendering:
            head = f"{_tasks(rendering)} {'is' if rendering == 1 else 'are'} rendering"
            head += f" and {queued:,} queued." if queued else "."
        else:
            head = f"{_tasks(queued)} {'is' if queued == 1 else 'are'} queued."
        return (
            f"{head} Quitting stops the manager: workers lose it, running renders are "
            "requeued when it starts again, and nothing new is handed out meanwhile."
        )

    def ask(self) -> bool:
        """True: the caller must not close now (a question is open, or already was)."""
        if self.box is not None:
            self.box.raise_()
            return True
        rendering, queued = self._work()
        if not rendering and not queued:
            return False
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Quit Flamenco Manager?", "", parent=self.window
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(self.question(rendering, queued))
        quit_button = box.addButton(QUIT, QMessageBox.ButtonRole.DestructiveRole)
        tray_button: QPushButton | None = None
        if self._tray_available():
            tray_button = box.addButton(TRAY, QMessageBox.ButtonRole.AcceptRole)
            box.setDefaultButton(tray_button)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        if tray_button is None:
            box.setDefaultButton(cancel)

        def done(_: int) -> None:
            self.box = None
            clicked = box.clickedButton()
            if clicked is quit_button:
                self._quit_now()
            elif tray_button is not None and clicked is tray_button:
                self._to_tray()

        box.finished.connect(done)
        self.box = box
        box.open()
        return True
