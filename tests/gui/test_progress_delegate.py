"""Progress bars drawn once per look and copied after: repaints reuse them, a new value
or a new selection draws a new one, and a repaint looks the same."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QTableView

from flamenco_gui.gui.progress_delegate import ProgressDelegate
from flamenco_gui.gui.table_model import BAR_ROLE


def _table(qtbot, values: list[float]) -> tuple[QTableView, QStandardItemModel, ProgressDelegate]:
    model = QStandardItemModel(len(values), 1)
    for row, value in enumerate(values):
        item = QStandardItem(f"{value:.0f} %")
        item.setData(value, BAR_ROLE)
        model.setItem(row, 0, item)
    view = QTableView()
    qtbot.addWidget(view)
    delegate = ProgressDelegate(view)
    view.setItemDelegate(delegate)
    view.setModel(model)
    view.setColumnWidth(0, 160)
    view.resize(220, 200)
    view.show()
    qtbot.waitExposed(view)
    return view, model, delegate


def _cell(view: QTableView, row: int) -> QImage:
    return view.viewport().grab(view.visualRect(view.model().index(row, 0))).toImage()


def test_a_repaint_copies_the_bars_it_drew(qtbot) -> None:
    view, _, delegate = _table(qtbot, [0.0, 50.0, 50.0, 100.0])
    first = [_cell(view, r) for r in range(4)]
    drawn = delegate.drawn
    assert drawn == 3, "two cells with the same value and text share one bar"
    view.viewport().repaint()
    assert delegate.drawn == drawn
    assert [_cell(view, r) for r in range(4)] == first
    assert first[1] == first[2] and first[0] != first[1] != first[3]


def test_a_new_value_or_selection_draws_a_new_bar(qtbot) -> None:
    view, model, delegate = _table(qtbot, [10.0, 10.0])
    before = _cell(view, 0)
    drawn = delegate.drawn
    model.item(0, 0).setData(80.0, BAR_ROLE)
    model.item(0, 0).setText("80 %")
    after = _cell(view, 0)
    assert delegate.drawn == drawn + 1 and after != before
    view.selectRow(1)
    _cell(view, 1)
    assert delegate.drawn == drawn + 2  # the selected look is its own bar


def test_an_unmeasured_cell_is_plain_text(qtbot) -> None:
    view, model, delegate = _table(qtbot, [30.0])
    model.item(0, 0).setData(None, BAR_ROLE)
    model.item(0, 0).setText("offline")
    drawn = delegate.drawn
    _cell(view, 0)
    assert delegate.drawn == drawn
    assert model.item(0, 0).data(Qt.ItemDataRole.DisplayRole) == "offline"
