"""A live table model fed by farm events, sorted and filtered in the model itself.

Events arrive on the loop thread at any rate (a thousand task updates a second on a
busy farm). They are only recorded; a timer applies them at most ten times a second.
A batch becomes tight signals: `dataChanged` over contiguous changed rows, one
`beginMoveRows` per row whose sort key changed, inserts and removals as contiguous
blocks. So selection, the current row and persistent indexes follow their rows, and
a view repaints only what it shows. A batch too scattered to signal cheaply becomes a
model reset; views keep selection and scroll across it by row id (see table_view.py).
The model never touches SQL: rows come from events and pages read by the window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor

from flamenco_gui.farm.events import Change
from flamenco_gui.gui.plain import tooltip
from flamenco_gui.gui.sorted_ids import Key, SortedIds, normalise

Index = QModelIndex | QPersistentModelIndex
Row = dict[str, Any]
BAR_ROLE = Qt.ItemDataRole.UserRole + 1  # 0..100 for the bar delegate, or None
# More structural signals than this in one batch (a big job arriving while sorted by
# status) and one reset is cheaper than the signals; a scattered batch of a hundred row
# moves costs a few milliseconds.
MAX_SIGNALS = 500
# Rows applied per flush at most (~8 ms): a job action over 100,000 tasks arrives as a
# few thousand changed rows every tenth of a second; the rest waits one loop turn.
MAX_FLUSH = 1000


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    text: Callable[[Row], str]
    sort: Callable[[Row], Any] | None = None  # default: the text
    align_right: bool = False
    status: Callable[[Row], str | None] | None = None  # a key of the status colours
    bar: Callable[[Row], float | None] | None = None  # percent, drawn as a bar
    width: int = 100
    tooltip: Callable[[Row], str | None] | None = None
    clock: bool = False  # the text changes with time (elapsed, last seen): repainted 1/s
    stretch: bool = False  # takes the table's spare width (names, activity)


@dataclass(frozen=True, slots=True)
class _Patch:
    """The same fields for many known rows (a set-based change), applied to each row
    in place when the batch is: a 100,000-task action then allocates no row copies,
    whose hundred thousand fresh dicts made the cyclic collector stall the loop."""

    fields: Row


def contiguous_runs(positions: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted positions as contiguous (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for p in sorted(positions):
        if runs and p == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return runs


class LiveTableModel(QAbstractTableModel):
    flushed = Signal()  # a batch was applied: actions re-check what they may do

    def __init__(
        self,
        kind: str,
        columns: Sequence[Column],
        *,
        search: Callable[[Row], str] | None = None,
        fields: Sequence[str] | None = None,
        flush_ms: int = 100,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.columns = list(columns)
        self._search = search or (lambda r: " ".join(c.text(r) for c in self.columns))
        # The fields kept of each row (None: all). A task row has two dozen, half of them
        # (commands above all) shown nowhere: at 100,000 rows that is ~100 MB saved.
        self._fields = tuple(fields) if fields is not None else None
        self._rows: dict[int, Row] = {}  # every known row, shown or filtered out
        self._order = SortedIds()  # the shown rows, ascending by the sort column
        self._pending: dict[int, Row | _Patch | None] = {}
        self._flush_ms = flush_ms
        self._sort_column = 0
        self._descending = False
        self._accept: Callable[[Row], bool] | None = None
        self._needle = ""
        self._hay: dict[int, str] = {}  # lower-cased search text, built on demand
        self.colors: dict[str, QColor] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(flush_ms)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self.flush(MAX_FLUSH))

    # -- feeding ---------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        """Event-bus subscriber (it takes partial changes): record, and let the timer
        apply the batch."""
        if change.kind == self.kind and change.partial and change.row is not None:
            self._record_set((change.id,), change.row)  # a few columns of a known row
        elif change.kind == self.kind:
            self._record(change.id, change.row)
        elif change.kind == "tasks" and self.kind == "task" and change.row is not None:
            self._record_set(change.row["ids"], change.row["fields"])

    def _record_set(self, ids: Iterable[int], fields: Row | None) -> None:
        """A set-based change (a slice of a job's tasks): the same `fields` on every row
        of `ids` (None: they are gone), applied from the rows in hand, never re-read."""
        if fields is None:
            for obj_id in ids:
                self._record(obj_id, None)
            return
        if self._fields is not None:
            fields = {k: v for k, v in fields.items() if k in self._fields}
        patch = _Patch(fields)  # one for the slice, shared by its rows
        for obj_id in ids:
            if obj_id in self._pending:
                pending = self._pending[obj_id]
                if isinstance(pending, _Patch):
                    self._pending[obj_id] = _Patch(pending.fields | fields)
                elif pending is not None:  # (None: deleted meanwhile, and stays so)
                    self._record(obj_id, {**pending, **fields})
            elif obj_id in self._rows:
                self._pending[obj_id] = patch
        if self._pending and not self._timer.isActive():
            self._timer.start()

    def feed(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Rows read from the service (a page at start-up), applied like events: in
        arrival order, so whichever of a page and an event came later wins."""
        for row in rows:
            self._record(row["id"], cast(Row, row))  # kept as read, never copied

    def _record(self, obj_id: int, row: Row | None) -> None:
        self._pending[obj_id] = row
        if not self._timer.isActive():
            self._timer.start()

    def flush(self, limit: int | None = None) -> None:
        """Apply what was recorded: all of it, or the first `limit` rows (the timer's
        way, so one flush stays short) with the rest applied one loop turn later."""
        self._timer.stop()
        self._timer.setInterval(self._flush_ms)
        pending, self._pending = self._pending, {}
        if not pending:
            return
        if limit is not None and len(pending) > limit:
            ids = list(pending)
            self._pending = {i: pending.pop(i) for i in ids[limit:]}
            self._timer.start(0)  # the rest next turn, the loop running in between
        removed: list[int] = []
        moved: list[tuple[int, Key]] = []
        added: list[Key] = []
        changed: list[int] = []
        deleted: list[int] = []
        for obj_id, row in pending.items():
            old = self._order.key_of(obj_id)
            self._hay.pop(obj_id, None)
            if isinstance(row, _Patch):
                if (known := self._rows.get(obj_id)) is None:
                    continue  # deleted by an earlier batch
                row = self._patched(obj_id, known, row)
            elif row is None:
                deleted.append(obj_id)  # its data stays until its row is gone
            else:
                if self._fields is not None:
                    row = {k: row.get(k) for k in self._fields}
                self._rows[obj_id] = row
            if row is None or not self._shown(row):
                if old is not None:
                    removed.append(obj_id)
                continue
            key = self._key(row)
            if old is None:
                added.append(key)
            elif key != old:
                moved.append((obj_id, key))
            else:
                changed.append(obj_id)
        added.sort()
        inserts = self._insert_groups(added)
        removals = contiguous_runs(p for i in removed if (p := self._order.position(i)) is not None)
        if len(removals) + len(moved) + len(inserts) > MAX_SIGNALS:
            self.beginResetModel()
            self._order.replace(self._all_keys(set(removed), moved, added))
            self.endResetModel()
        else:
            self._apply_removals(removals)
            changed += self._apply_moves(moved)
            self._apply_inserts(self._insert_groups(added))
            self._emit_changed(changed)
        for obj_id in deleted:
            self._rows.pop(obj_id, None)
        self.flushed.emit()

    def _patched(self, obj_id: int, row: Row, patch: _Patch) -> Row:
        """The row with the patch's fields. In place where the row is the model's own
        copy (cut to `_fields`); a row kept as it was fed is shared, so it is copied."""
        if self._fields is None:
            row = self._rows[obj_id] = {**row, **patch.fields}
        else:
            row.update(patch.fields)
        return row

    def _all_keys(
        self, drop: set[int], moved: list[tuple[int, Key]], added: list[Key]
    ) -> list[Key]:
        """Every shown key after a batch, sorted: the reset path's new order."""
        drop = drop | {i for i, _ in moved}
        keys = [k for k in self._order.all_keys() if k[1] not in drop]
        return sorted([*keys, *(k for _, k in moved), *added])

    # -- the signals a batch becomes ---------------------------------------------------

    def _display(self, position: int, count: int) -> int:
        return count - 1 - position if self._descending else position

    def _apply_removals(self, runs: list[tuple[int, int]]) -> None:
        for first, last in reversed(runs):
            n = len(self._order)
            a, b = sorted((self._display(first, n), self._display(last, n)))
            self.beginRemoveRows(QModelIndex(), a, b)
            self._order.remove_block(first, last + 1)
            self.endRemoveRows()

    def _apply_moves(self, moved: list[tuple[int, Key]]) -> list[int]:
        for obj_id, key in moved:
            n = len(self._order)
            old = self._order.position(obj_id)
            assert old is not None
            new = self._order.insertion_point(key)
            if new > old:
                new -= 1  # the row leaves its old place first
            src, dst = self._display(old, n), self._display(new, n)
            if src == dst:
                self._order.move(obj_id, key)
                continue
            self.beginMoveRows(
                QModelIndex(), src, src, QModelIndex(), dst if dst < src else dst + 1
            )
            self._order.move(obj_id, key)
            self.endMoveRows()
        return [i for i, _ in moved]

    def _insert_groups(self, keys: list[Key]) -> list[tuple[int, list[Key]]]:
        """Sorted new keys grouped by where they go; each group is one block."""
        groups: list[tuple[int, list[Key]]] = []
        for key in keys:
            at = self._order.insertion_point(key)
            if groups and groups[-1][0] == at:
                groups[-1][1].append(key)
            else:
                groups.append((at, [key]))
        return groups

    def _apply_inserts(self, groups: list[tuple[int, list[Key]]]) -> None:
        # From the end, so the earlier groups' insertion points stay valid.
        for at, keys in reversed(groups):
            n = len(self._order) + len(keys)
            a, b = sorted((self._display(at, n), self._display(at + len(keys) - 1, n)))
            self.beginInsertRows(QModelIndex(), a, b)
            self._order.insert_block(at, keys)
            self.endInsertRows()

    def _emit_changed(self, ids: list[int]) -> None:
        last_col = len(self.columns) - 1
        rows = (r for i in ids if (r := self.row_of(i)) is not None)
        for first, last in contiguous_runs(rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_col))

    # -- sorting and filtering -------------------------------------------------------

    def _key(self, row: Row) -> Key:
        col = self.columns[self._sort_column]
        value = col.sort(row) if col.sort else col.text(row)
        return SortedIds.make_key(row["id"], value)

    def _shown(self, row: Row) -> bool:
        if self._accept is not None and not self._accept(row):
            return False
        if self._needle:
            hay = self._hay.get(row["id"])
            if hay is None:
                hay = self._hay[row["id"]] = self._search(row).casefold()
            return self._needle in hay
        return True

    def _rebuild(self) -> None:
        """Sort every shown row again: one key per row, then a C sort (0.2 s at 100k)."""
        col = self.columns[self._sort_column]
        value = col.sort or col.text
        rows = self._rows.values()
        if self._accept is not None or self._needle:
            rows = [r for r in rows if self._shown(r)]  # type: ignore[assignment]
        keys = [(normalise(value(r)), r["id"]) for r in rows]
        keys.sort()
        self._order.replace(keys)

    def set_filter(self, accept: Callable[[Row], bool] | None, needle: str = "") -> None:
        """Show only rows `accept` takes and whose text holds `needle` (any case).
        A user's action, so a reset is fine; views keep their selection by id."""
        self.flush()
        self._accept = accept
        self._needle = needle.strip().casefold()
        self.beginResetModel()
        self._rebuild()
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Called by the view's header. A layout change, so selection stays on its rows."""
        self.flush()
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        held = [(self.id_at(p.row()) if p.isValid() else None, p.column()) for p in persistent]
        self._sort_column = column
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._rebuild()
        moved = []
        for obj_id, col in held:
            row = None if obj_id is None else self.row_of(obj_id)
            moved.append(QModelIndex() if row is None else self.index(row, col))
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def column_changed(self, title: str) -> None:
        """A column's values changed with no row changing (they depend on something
        outside the rows): repaint that column, and sort again if it is the sort key."""
        col = [c.title for c in self.columns].index(title)
        if self._sort_column == col:
            self.refresh_sort()
        if len(self._order):
            self.dataChanged.emit(self.index(0, col), self.index(len(self._order) - 1, col))

    def refresh_sort(self) -> None:
        """Re-sort by the current column (its values may depend on other tables)."""
        order = Qt.SortOrder.DescendingOrder if self._descending else Qt.SortOrder.AscendingOrder
        self.sort(self._sort_column, order)

    # -- lookups ---------------------------------------------------------------------

    def id_at(self, row: int) -> int:
        return self._order.id_at(self._display(row, len(self._order)))

    def row_of(self, obj_id: int) -> int | None:
        """The row showing `obj_id`, or None (unknown or filtered out)."""
        pos = self._order.position(obj_id)
        return None if pos is None else self._display(pos, len(self._order))

    def row_dict(self, row: int) -> Row:
        return self._rows[self.id_at(row)]

    def get(self, obj_id: int) -> Row | None:
        """The latest known row, shown or not, counting changes not yet applied: another
        table naming this row (a task's worker) must not wait for this one's batch."""
        row = self._rows.get(obj_id)
        if obj_id in self._pending:
            pending = self._pending[obj_id]
            if not isinstance(pending, _Patch):
                return pending
            return None if row is None else {**row, **pending.fields}
        return row

    def all_rows(self) -> Iterable[Row]:
        return self._rows.values()

    def known(self) -> int:
        return len(self._rows)

    # -- Qt's side -------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Views ask for a dozen roles per painted cell: refuse the unused ones first.
        if role not in _ROLES or not index.isValid():
            return None
        col = self.columns[index.column()]
        n = len(self._order)
        row = self._rows[
            self._order.id_at(n - 1 - index.row() if self._descending else index.row())
        ]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self.colors.get(col.status(row) or "") if col.status else None
        if role == BAR_ROLE:
            return col.bar(row) if col.bar else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if col.align_right else None
        # ToolTipRole: user text shown as written (gui/plain.py)
        return tooltip(col.tooltip(row) or "") or None if col.tooltip else None


_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ToolTipRole,
        BAR_ROLE,
    }
)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
