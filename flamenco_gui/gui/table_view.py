"""A table view for a LiveTableModel that keeps the wrangler's place.

Rows have a fixed height and columns are never sized to their contents (measuring
100,000 rows would stall the window). Across a batch of updates the first visible row
stays first (rows inserted or moved above it do not scroll the view away), and across a
model reset (a filter change, a scattered batch) the selection, current row and first
visible row are restored by id. A clock repaints the visible cells of its clock columns
once a second, so elapsed times and "last seen" ages tick without any event.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QRect,
    Qt,
    QTimer,
)
from PySide6.QtGui import QHelpEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QToolTip, QWidget

from flamenco_gui.gui.plain import tooltip
from flamenco_gui.gui.progress_delegate import ProgressDelegate
from flamenco_gui.gui.table_model import LiveTableModel, contiguous_runs

ROW_HEIGHT = 24


class LiveTableView(QTableView):
    def __init__(self, model: LiveTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live_model = model
        self.setModel(model)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        vh = self.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(ROW_HEIGHT)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # Names and activity take the spare width; ids and figures keep theirs. Never
        # less than their own width: Qt's Stretch mode shrinks a name to a few letters
        # when the columns are wider than the view (the workers table at 1440 px), so
        # the spare width is shared out here, and without any the view scrolls.
        self._stretch = [i for i, col in enumerate(model.columns) if col.stretch]
        hh.setStretchLastSection(not self._stretch)
        hh.setHighlightSections(False)
        self._bars = ProgressDelegate(self)
        for i, col in enumerate(model.columns):
            self.setColumnWidth(i, col.width)
            if col.bar is not None:
                self.setItemDelegateForColumn(i, self._bars)
        hh.sectionResized.connect(self._resized_by_hand)
        self._fitting = False
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)

        self._top_id: int | None = None
        self._held: tuple[list[int], int | None, int | None] | None = None
        model.modelAboutToBeReset.connect(self._hold)
        model.modelReset.connect(self._restore)
        model.rowsAboutToBeInserted.connect(self._note_top)
        model.rowsAboutToBeRemoved.connect(self._note_top)
        model.rowsAboutToBeMoved.connect(self._note_top)
        model.flushed.connect(self._keep_top)
        self._clock_columns = [i for i, c in enumerate(model.columns) if c.clock]
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        if self._clock_columns:
            self._clock.start()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    def fit_columns(self) -> None:
        """The stretching columns share the view's spare width, each at least its own."""
        if not self._stretch:
            return
        columns = self.live_model.columns
        fixed = sum(
            self.columnWidth(i)
            for i in range(len(columns))
            if i not in self._stretch and not self.isColumnHidden(i)
        )
        shown = [i for i in self._stretch if not self.isColumnHidden(i)]
        least = sum(columns[i].width for i in shown)
        spare = max(0, self.viewport().width() - fixed - least)
        self._fitting = True
        try:
            for n, i in enumerate(shown):
                share = spare // len(shown) + (1 if n < spare % len(shown) else 0)
                self.setColumnWidth(i, columns[i].width + share)
        finally:
            self._fitting = False

    def _resized_by_hand(self, index: int, _old: int, _new: int) -> None:
        """A column the wrangler dragged (or hid): the stretching ones fit again."""
        if not self._fitting and index not in self._stretch:
            self.fit_columns()

    def viewportEvent(self, event: QEvent) -> bool:
        """A cell cut short shows its whole text as a tooltip (when its column has no
        tooltip of its own); measured only when the mouse rests on it."""
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.indexAt(event.pos())
            if index.isValid() and index.data(Qt.ItemDataRole.ToolTipRole) is None:
                text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
                room = self.visualRect(index).width() - 8  # the cell's margins
                if text and self.fontMetrics().horizontalAdvance(text) > room:
                    QToolTip.showText(event.globalPos(), tooltip(text), self.viewport())
                    return True
                QToolTip.hideText()
                event.ignore()
                return True
        return super().viewportEvent(event)

    def _tick(self) -> None:
        """Repaint only the columns whose text is a clock: the rest changes by events."""
        viewport = self.viewport()
        height = viewport.height()
        for column in self._clock_columns:
            x = self.columnViewportPosition(column)
            if x >= 0 or x + self.columnWidth(column) > 0:
                viewport.update(QRect(x, 0, self.columnWidth(column), height))

    # -- ids ---------------------------------------------------------------------------

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [self.live_model.id_at(r) for r in rows]

    def current_id(self) -> int | None:
        index = self.currentIndex()
        return self.live_model.id_at(index.row()) if index.isValid() else None

    def select_ids(self, ids: list[int], current: int | None = None) -> None:
        """Select the rows showing `ids` (contiguous rows as one range each)."""
        model = self.live_model
        rows = [r for i in ids if (r := model.row_of(i)) is not None]
        selection = QItemSelection()
        last = model.columnCount() - 1
        for first, end in contiguous_runs(rows):
            selection.select(model.index(first, 0), model.index(end, last))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.selectionModel().select(selection, flags)
        row = model.row_of(current) if current is not None else None
        if row is not None:
            self.selectionModel().setCurrentIndex(
                model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate
            )

    def top_id(self) -> int | None:
        if self.verticalScrollBar().value() == 0:
            return None  # at the top: stay there, so new rows at the top show
        index = self.indexAt(self.viewport().rect().topLeft())
        return self.live_model.id_at(index.row()) if index.isValid() else None

    def scroll_to_id(self, obj_id: int | None) -> None:
        row = None if obj_id is None else self.live_model.row_of(obj_id)
        if row is not None:
            self.verticalScrollBar().setValue(row)

    # -- keeping the place -------------------------------------------------------------

    def _note_top(self, parent: QModelIndex, *_: object) -> None:
        if self._top_id is None:
            self._top_id = self.top_id()

    def _keep_top(self) -> None:
        top, self._top_id = self._top_id, None
        self.scroll_to_id(top)

    def _hold(self) -> None:
        self._held = (self.selected_ids(), self.current_id(), self._top_id or self.top_id())

    def _restore(self) -> None:
        if self._held is None:
            return
        ids, current, top = self._held
        self._held = None
        if ids or current is not None:
            self.select_ids(ids, current)
        self.scroll_to_id(top)
