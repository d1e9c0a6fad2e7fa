"""Window geometry, splitters, column widths and sorting are remembered (QSettings)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.gui.helpers import running_window


def test_layout_is_remembered_across_windows(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (_manager, window):
            window.resize(760, 600)
            window.split.setSizes([100, 300, 200])
            window.middle.setSizes([500, 500])
            window.tasks.view.setColumnWidth(1, 222)
            window.tasks.view.sortByColumn(2, Qt.SortOrder.DescendingOrder)
            sizes = window.split.sizes(), window.middle.sizes()
        async with running_window(tmp_path, qtbot) as (_manager, again):
            assert (again.width(), again.height()) == (760, 600)  # within the offscreen screen
            assert (again.split.sizes(), again.middle.sizes()) == sizes
            assert again.tasks.view.columnWidth(1) == 222
            header = again.tasks.view.horizontalHeader()
            assert header.sortIndicatorSection() == 2
            assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder

    qloop.run_until_complete(scenario())
