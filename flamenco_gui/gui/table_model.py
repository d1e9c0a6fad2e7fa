"""A live table model fed by farm events, repainted in batches.

Events arrive on the loop thread at any rate (a thousand task updates a second on a
busy farm). They are only recorded; a timer applies them at most 10 times a second,
with per-row `dataChanged` signals so a sorting proxy and the selection stay put, and
inserts/removals as whole blocks. The model never touches SQL: rows come from events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QColor

from flamenco_gui.farm.events import Change

Index = QModelIndex | QPersistentModelIndex
ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the raw row dict, for actions and delegates
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # a sortable value (numbers sort as numbers)


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    text: Callable[[dict[str, Any]], str]
    sort: Callable[[dict[str, Any]], Any] | None = None
    align_right: bool = False
    color: Callable[[dict[str, Any]], str | None] | None = None  # foreground, "#rrggbb"


class LiveTableModel(QAbstractTableModel):
    def __init__(self, kind: str, columns: Sequence[Column], flush_ms: int = 100) -> None:
        super().__init__()
        self.kind = kind
        self.columns = list(columns)
        self._rows: list[dict[str, Any]] = []
        self._index: dict[int, int] = {}  # object id -> row number
        self._pending: dict[int, dict[str, Any] | None] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(flush_ms)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)

    # -- feeding ---------------------------------------------------------------------

    def reset_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._index = {r["id"]: i for i, r in enumerate(self._rows)}
        self.endResetModel()

    def on_change(self, change: Change) -> None:
        """Event-bus subscriber: record, and let the timer repaint."""
        if change.kind != self.kind:
            return
        self._pending[change.id] = change.row
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        removed = sorted(
            (self._index[i] for i, r in pending.items() if r is None and i in self._index),
            reverse=True,
        )
        for row in removed:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()
        if removed:
            self._index = {r["id"]: i for i, r in enumerate(self._rows)}
        added = [r for i, r in pending.items() if r is not None and i not in self._index]
        last_col = len(self.columns) - 1
        for obj_id, row in pending.items():
            pos = self._index.get(obj_id)
            if row is not None and pos is not None:
                self._rows[pos] = row
                self.dataChanged.emit(self.index(pos, 0), self.index(pos, last_col))
        if added:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(added) - 1)
            for offset, row in enumerate(added):
                self._index[row["id"]] = start + offset
                self._rows.append(row)
            self.endInsertRows()

    def row_dict(self, row: int) -> dict[str, Any]:
        return self._rows[row]

    def row_of(self, obj_id: int) -> int | None:
        return self._index.get(obj_id)

    # -- Qt's side -------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row)
        if role == SORT_ROLE:
            return col.sort(row) if col.sort else col.text(row)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and col.color:
            color = col.color(row)
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
