"""A status bar whose messages never run into its permanent widgets (the URL, token
and farm id): a long message is cut with "…" to the room left of them, the whole text
in its tooltip and in `currentMessage()`."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QStatusBar, QWidget

from flamenco_gui.gui.plain import tooltip

MARGIN = 24  # px: the grip and the spacing between sections


class ElidingStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # As QMainWindow.statusBar() makes its own: the bar never widens the window.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._permanent: list[QWidget] = []
        self._full = ""
        self.messageChanged.connect(self._cleared)

    def addPermanentWidget(self, widget: QWidget, stretch: int | None = 0) -> None:
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch or 0)

    def room(self) -> int:
        taken = sum(w.sizeHint().width() for w in self._permanent if not w.isHidden())
        return max(80, self.width() - taken - MARGIN)

    def showMessage(self, text: str, timeout: int | None = 0) -> None:
        self._full = text
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, self.room())
        self.setToolTip(tooltip(text) if shown != text else "")
        super().showMessage(shown, timeout or 0)

    def currentMessage(self) -> str:
        """The whole message (the bar may show it cut short)."""
        return self._full if super().currentMessage() else ""

    def _cleared(self, text: str) -> None:
        if not text:  # timed out or cleared: its tooltip goes with it
            self._full = ""
            self.setToolTip("")
