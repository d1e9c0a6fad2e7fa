"""A titled live table with a search box and a state filter above it.

The jobs, tasks and workers views are each one of these with their own columns and
filter choices. Typing is debounced (250 ms) because re-filtering 100,000 tasks takes a
noticeable fraction of a second the first time (the search text of each row is then
cached until the row changes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from flamenco_gui.gui.plain import plain_label, tooltip
from flamenco_gui.gui.table_model import LiveTableModel
from flamenco_gui.gui.table_view import LiveTableView

Row = dict[str, Any]
TITLE_WIDTH = 320  # px a table's title may take beside its search box
Choice = tuple[str, Callable[[Row], bool] | None]  # (label, predicate); None: everything


def field_is(field: str, value: str) -> Callable[[Row], bool]:
    return lambda r: r.get(field) == value


class TablePanel(QWidget):
    def __init__(
        self,
        title: str,
        model: LiveTableModel,
        choices: Sequence[Choice],
        placeholder: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.scope: Callable[[Row], bool] | None = None  # e.g. the selected jobs' tasks
        self.title = plain_label("", bold=True)
        self.set_title(title)
        self.search = QLineEdit()
        self.search.setPlaceholderText(placeholder)
        self.search.setClearButtonEnabled(True)
        self.choice = QComboBox()
        self._choices = list(choices)
        for label, _ in self._choices:
            self.choice.addItem(label)
        self.count = QLabel()
        self.count.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.view = LiveTableView(model, self)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title)
        top.addSpacing(8)
        top.addWidget(self.search, 1)
        top.addWidget(self.choice)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.view)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.choice.currentIndexChanged.connect(lambda _: self.apply_filter())
        for signal in (model.flushed, model.modelReset, model.layoutChanged):
            signal.connect(self._count)
        self._count()

    def set_title(self, title: str) -> None:
        """Cut short to TITLE_WIDTH (a long job name must not squeeze the search box),
        whole in the tooltip."""
        metrics = self.title.fontMetrics()
        shown = metrics.elidedText(title, Qt.TextElideMode.ElideMiddle, TITLE_WIDTH)
        self.title.setText(shown)
        self.title.setToolTip(tooltip(title) if shown != title else "")

    def apply_filter(self) -> None:
        self._debounce.stop()
        state = self._choices[self.choice.currentIndex()][1]
        scope = self.scope
        if state and scope:
            accept: Callable[[Row], bool] | None = lambda r: scope(r) and state(r)  # noqa: E731
        else:
            accept = state or scope
        self.model.set_filter(accept, self.search.text())

    def _count(self) -> None:
        shown, known = self.model.rowCount(), self.model.known()
        self.count.setText(f"{shown:,}" if shown == known else f"{shown:,} of {known:,}")
