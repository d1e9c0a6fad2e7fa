"""The wrangler's window: live worker and task tables, and how workers connect."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui import __version__
from flamenco_gui.farm.events import Change
from flamenco_gui.farm.service import FarmService
from flamenco_gui.gui.columns import PROGRESS_COLUMN, WORKER_COLUMNS, task_columns
from flamenco_gui.gui.progress_delegate import ProgressDelegate
from flamenco_gui.gui.table_model import SORT_ROLE, LiveTableModel

INITIAL_TASKS = 100_000  # a page big enough for any small studio's farm at start-up


def _table(model: LiveTableModel) -> QTableView:
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    # Fixed row heights: a live table must never measure its rows (it would stall).
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(24)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setDefaultSectionSize(110)
    return view


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(self, service: FarmService, url: str, token: str) -> None:
        super().__init__()
        self.service = service
        self.url = url
        self.token = token
        self.setWindowTitle(f"Flamenco Manager {__version__}")
        self.resize(1200, 760)

        self.worker_model = LiveTableModel("worker", WORKER_COLUMNS)
        self.task_model = LiveTableModel("task", task_columns(self._worker_name))
        self.worker_model.reset_rows(service.list_workers())
        self.task_model.reset_rows(service.list_tasks(limit=INITIAL_TASKS)[0])
        self._unsubscribe = [
            service.events.subscribe(self.worker_model.on_change),
            service.events.subscribe(self.task_model.on_change),
            service.events.subscribe(self._on_farm_change),
        ]

        self.worker_view = _table(self.worker_model)
        self.task_view = _table(self.task_model)
        self.task_view.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.task_view))
        self.task_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.worker_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._titled("Workers", self.worker_view))
        splitter.addWidget(self._titled("Tasks", self.task_view))
        splitter.setSizes([260, 500])
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "background: #d64541; color: white; padding: 6px; font-weight: bold;"
        )
        self.banner.hide()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(splitter)
        self.setCentralWidget(central)
        self._show_storage_error(service.storage_error)
        self._build_status_bar()

    def _on_farm_change(self, change: Change) -> None:
        if change.kind == "farm" and change.row is not None:
            self._show_storage_error(change.row.get("storage_error"))

    def _show_storage_error(self, error: str | None) -> None:
        """A farm that cannot save is the one thing a wrangler must not miss."""
        self.banner.setText(f"Changes cannot be saved: {error}. Free space or fix the data dir.")
        self.banner.setVisible(bool(error))

    def _titled(self, title: str, view: QTableView) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 6, 6, 0)
        label = QLabel(f"<b>{title}</b>")
        layout.addWidget(label)
        layout.addWidget(view)
        return box

    def _worker_name(self, worker_id: int | None) -> str:
        if worker_id is None:
            return ""
        row = self.worker_model.row_of(worker_id)
        return self.worker_model.row_dict(row)["hostname"] if row is not None else f"#{worker_id}"

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.url_label = QLabel(f"Workers connect to <b>{self.url}</b>")
        self.url_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.url_label)
        bar.addWidget(self._copy_button("Copy URL", lambda: self.url))
        masked = self.token[:4] + "…" + self.token[-4:]
        self.token_label = QLabel(f"  Token <b>{masked}</b>")
        self.token_label.setToolTip("The farm token: workers and scripts need it.")
        bar.addWidget(self.token_label)
        bar.addWidget(self._copy_button("Copy token", lambda: self.token))

    def _copy_button(self, text: str, value) -> QPushButton:
        button = QPushButton(text)
        button.setFlat(True)
        button.clicked.connect(lambda: QGuiApplication.clipboard().setText(value()))
        return button

    def closeEvent(self, event) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        super().closeEvent(event)
        self.closed.emit()
