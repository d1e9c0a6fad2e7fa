"""Farm settings: timeouts and retry limits (kept in the farm's database through
FarmService, in force at once), path variables (likewise; they apply to jobs submitted
from then on), the port (kept in QSettings, used at the next start: the server is
already listening) and the farm token (rotated at once).

Field ranges come from farm/settings.py's SETTINGS, and the service validates again
on save; its reason is shown under the field it names. Path variables are checked by
the service alone (FarmService.set_path_variables), so the dialog can never accept what
the API would refuse; its reason is shown under the table and the row it names is
selected.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui.farm.errors import FarmError
from flamenco_gui.farm.settings import SETTINGS
from flamenco_gui.gui.handle import ManagerHandle
from flamenco_gui.gui.plain import plain_label

PORT_KEY = "manager/port"
HOST_KEY = "manager/host"
# Where the manager listens: (label, address). An address typed in is kept as well.
LISTEN = (("All network interfaces", "0.0.0.0"), ("This computer only", "127.0.0.1"))
# The table's columns after the name: the service's platform keys, as people name them.
PLATFORM_COLUMNS = (("linux", "Linux"), ("windows", "Windows"), ("darwin", "macOS"))
PathVariables = dict[str, dict[str, str]]
LABELS = {
    "worker_timeout": (
        "Worker timeout",
        " s",
        "No heartbeat for this long: offline, task requeued",
    ),
    "task_timeout": ("Task timeout", " s", "No output or progress for this long: task retried"),
    "max_attempts": ("Max attempts", "", "Runs of a failing task before it stays failed"),
    "blocklist_threshold": (
        "Blocklist after",
        " failures",
        "Failed tasks of one job that keep a worker off that job",
    ),
}


def mask(token: str) -> str:
    return token[:4] + "…" + token[-4:] if len(token) > 10 else "…"


def saved_port(settings: QSettings, default: int) -> int:
    """The port chosen here, or `default`. The INI backend hands a saved number back
    as text, so it is parsed either way."""
    return int(str(settings.value(PORT_KEY, default)))


class SettingsDialog(QDialog):
    token_rotated = Signal(str)

    def __init__(
        self, manager: ManagerHandle, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.service = manager.service
        self.qsettings = settings
        self.confirm_box: QMessageBox | None = None
        self.setWindowTitle("Settings")
        self.setMinimumWidth(640)
        self.fields: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.errors: dict[str, QLabel] = {}
        form = QFormLayout()
        current = self.service.settings()
        for setting in SETTINGS:
            key = setting.key
            label, suffix, tip = LABELS.get(key, (key, "", setting.help))
            spin: QSpinBox | QDoubleSpinBox
            if setting.kind is int:
                spin = QSpinBox()
                spin.setRange(int(setting.low), int(setting.high))
            else:
                spin = QDoubleSpinBox()
                spin.setDecimals(0)
                spin.setRange(setting.low, setting.high)
            spin.setValue(current[key])
            spin.setSuffix(suffix)
            spin.setToolTip(tip)
            spin.setMinimumWidth(140)
            self.fields[key] = spin
            form.addRow(label, self._with_error(key, spin, tip))

        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(saved_port(settings, manager.port))
        self.port.setMinimumWidth(140)
        form.addRow(
            "Port",
            self._with_error("port", self.port, f"Applies at the next start (now {manager.port})"),
        )
        self.listen = QComboBox()
        self.listen.setEditable(True)  # or one interface's address
        for label, address in LISTEN:
            self.listen.addItem(f"{label} ({address})", address)
        saved = str(settings.value(HOST_KEY, manager.host) or manager.host)
        found = self.listen.findData(saved)
        if found >= 0:
            self.listen.setCurrentIndex(found)
        else:
            self.listen.setEditText(saved)
        form.addRow(
            "Listen on",
            self._with_error(
                "host",
                self.listen,
                f"Applies at the next start (now {manager.host}); a --host flag wins",
            ),
        )
        self.token_label = QLabel(f"<b>{mask(manager.token.value)}</b>")
        self.rotate = QPushButton("Rotate token…")
        self.rotate.setAutoDefault(False)
        self.rotate.clicked.connect(self.ask_rotate)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_label)
        token_row.addWidget(self.rotate)
        token_row.addStretch(1)
        token_box = QWidget()
        token_box.setLayout(token_row)
        token_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Farm token", token_box)
        # The read-only token of the status page and dashboards: rotating it closes
        # every status page opened with the old one (no confirmation: nothing breaks).
        self.viewer_label = QLabel(f"<b>{mask(manager.viewer_token.value)}</b>")
        self.rotate_viewer = QPushButton("Rotate viewer token")
        self.rotate_viewer.setAutoDefault(False)
        self.rotate_viewer.clicked.connect(self.rotate_viewer_now)
        viewer_row = QHBoxLayout()
        viewer_row.addWidget(self.viewer_label)
        viewer_row.addWidget(self.rotate_viewer)
        viewer_row.addStretch(1)
        viewer_row.setContentsMargins(0, 0, 0, 0)
        viewer_box = QWidget()
        viewer_box.setLayout(viewer_row)
        form.addRow("Viewer token", viewer_box)

        self.general = plain_label()
        self.general.setStyleSheet("color: #d64541;")
        self.general.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self._path_variables_box())
        layout.addWidget(self.general)
        layout.addWidget(buttons)

    def _path_variables_box(self) -> QGroupBox:
        """One row per variable: its name and the place as each platform mounts it."""
        box = QGroupBox("Path variables")
        hint = QLabel(
            "A storage place as each platform mounts it. A submitted job's paths under it "
            "are kept as {name}/… and sent to each worker in its own platform's form. Leave "
            "a platform empty if none of its workers reach the place. Applies to jobs "
            "submitted from now on."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.variables = QTableWidget(0, 1 + len(PLATFORM_COLUMNS))
        self.variables.setHorizontalHeaderLabels(["Name", *(t for _, t in PLATFORM_COLUMNS)])
        self.variables.verticalHeader().setVisible(False)
        self.variables.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.variables.setAlternatingRowColors(True)
        header = self.variables.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.variables.setColumnWidth(0, 110)
        self.variables.setMinimumHeight(150)
        for name, values in sorted(self.service.path_variables().items()):
            self.add_variable(name, values)
        self.add_row = QPushButton("Add")
        self.add_row.setAutoDefault(False)
        self.add_row.clicked.connect(lambda: self.add_variable(edit=True))
        self.remove_row = QPushButton("Remove")
        self.remove_row.setAutoDefault(False)
        self.remove_row.clicked.connect(self.remove_variables)
        self.variables_error = plain_label()
        self.variables_error.setStyleSheet("color: #d64541;")
        self.variables_error.setWordWrap(True)
        self.variables_error.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_row)
        buttons.addWidget(self.remove_row)
        buttons.addStretch(1)
        column = QVBoxLayout(box)
        column.addWidget(hint)
        column.addWidget(self.variables)
        column.addLayout(buttons)
        column.addWidget(self.variables_error)
        return box

    def add_variable(
        self, name: str = "", values: dict[str, str] | None = None, edit: bool = False
    ) -> int:
        """Append a row (filled in, or empty to type into); returns its row number."""
        row = self.variables.rowCount()
        self.variables.insertRow(row)
        name_item = QTableWidgetItem(name)
        self.variables.setItem(row, 0, name_item)
        for col, (key, _) in enumerate(PLATFORM_COLUMNS, start=1):
            self.variables.setItem(row, col, QTableWidgetItem((values or {}).get(key, "")))
        if edit:
            self.variables.setCurrentCell(row, 0)
            self.variables.editItem(name_item)
        return row

    def remove_variables(self) -> None:
        rows = {i.row() for i in self.variables.selectionModel().selectedRows()}
        if not rows and self.variables.currentRow() >= 0:
            rows = {self.variables.currentRow()}
        for row in sorted(rows, reverse=True):
            self.variables.removeRow(row)

    def _cell(self, row: int, col: int) -> str:
        item = self.variables.item(row, col)
        return item.text().strip() if item is not None else ""

    def path_variables(self) -> tuple[PathVariables, str | None]:
        """The table as the service takes it, or a reason the table cannot be one (a
        name given twice would silently drop a row). Empty rows are left out; an empty
        platform cell is a platform the variable has no form for."""
        out: PathVariables = {}
        for row in range(self.variables.rowCount()):
            name = self._cell(row, 0)
            values = {
                key: text
                for col, (key, _) in enumerate(PLATFORM_COLUMNS, start=1)
                if (text := self._cell(row, col))
            }
            if not name and not values:
                continue
            if name in out:
                return out, f"{name}: the name is given twice"
            out[name] = values
        return out, None

    def _variables_failed(self, reason: str) -> None:
        self.variables_error.setText(reason)
        self.variables_error.show()
        # The service names the variable first ("'sh ot': …", "shots.windows: …").
        named = reason.removeprefix("path variables: ").split(":")[0].split(".")[0].strip("'\"")
        for row in range(self.variables.rowCount()):
            if named and self._cell(row, 0) == named:
                self.variables.selectRow(row)
                break

    def _with_error(self, key: str, widget: QWidget, note: str) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        hint = QLabel(note)
        hint.setStyleSheet("color: palette(placeholder-text);")
        hint.setWordWrap(True)
        column.addWidget(hint)
        error = plain_label()
        error.setStyleSheet("color: #d64541;")
        error.hide()
        column.addWidget(error)
        self.errors[key] = error
        return box

    def values(self) -> dict[str, Any]:
        return {key: spin.value() for key, spin in self.fields.items()}

    def save(self) -> None:
        for label in self.errors.values():
            label.hide()
        self.variables_error.hide()
        self.general.setText("")
        variables, problem = self.path_variables()
        if problem is not None:
            self._variables_failed(problem)
            return
        if variables != self.service.path_variables():
            try:
                self.service.set_path_variables(variables)
            except FarmError as exc:
                self._variables_failed(exc.message)
                return
        current = self.service.settings()
        changed = {k: v for k, v in self.values().items() if v != current[k]}
        try:
            if changed:
                self.service.update_settings(changed)
        except FarmError as exc:
            key, _, reason = exc.message.partition(": ")
            error_label = self.errors.get(key)
            if error_label is not None and reason:
                error_label.setText(reason)
                error_label.show()
            else:
                self.general.setText(exc.message)
            return
        self.qsettings.setValue(PORT_KEY, self.port.value())
        self.qsettings.setValue(HOST_KEY, self.listen_address())
        self.accept()

    def listen_address(self) -> str:
        """The address chosen (an item's) or typed (its text, as given)."""
        index = self.listen.currentIndex()
        if index >= 0 and self.listen.currentText() == self.listen.itemText(index):
            return str(self.listen.itemData(index))
        return self.listen.currentText().strip() or "0.0.0.0"

    def ask_rotate(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Rotate the farm token",
            "Make a new farm token now? Workers already registered keep working; new workers, "
            "scripts and the Blender add-on need the new token.",
            parent=self,
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def done(_: int) -> None:
            self.confirm_box = None
            if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes:
                self.rotate_now()

        box.finished.connect(done)
        self.confirm_box = box
        box.open()

    def rotate_viewer_now(self) -> str:
        token = self.manager.rotate_viewer_token()
        self.viewer_label.setText(f"<b>{mask(token)}</b>")
        return token

    def rotate_now(self) -> str:
        token = self.manager.rotate_token()
        self.token_label.setText(f"<b>{mask(token)}</b>")
        self.token_rotated.emit(token)
        return token
