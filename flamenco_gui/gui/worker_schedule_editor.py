"""A worker's sleep schedule, edited as a weekly grid: seven days by 24 hours, a lit
cell is an hour it renders (farm/schedules.py). The grid edits whole hours; ranges of
minutes set over the API are shown rounded out to the hours they touch. Self-contained:
the dialog here, or a worker details panel, embeds `ScheduleEditor`."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui.farm.schedules import DAYS

ON = QColor("#2e86c1")
OFF = QColor(0, 0, 0, 0)
Schedule = dict[str, Any]


def _hour(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) + (1 if int(minutes) else 0)


def hours_of(schedule: Schedule | None) -> set[tuple[int, int]]:
    """The (day, hour) cells a schedule covers."""
    cells: set[tuple[int, int]] = set()
    for r in (schedule or {}).get("ranges", []):
        start, end = int(r["start"].split(":")[0]), _hour(r["end"])
        for day in (DAYS.index(d) for d in r["days"]):
            if start < end:
                cells |= {(day, h) for h in range(start, end)}
            else:
                cells |= {(day, h) for h in range(start, 24)}
                cells |= {((day + 1) % 7, h) for h in range(end)}
    return cells


def ranges_of(cells: set[tuple[int, int]]) -> list[dict[str, Any]]:
    """One range per run of lit hours in a day (a run to midnight ends at 24:00)."""
    out = []
    for day in range(7):
        hour = 0
        while hour < 24:
            if (day, hour) not in cells:
                hour += 1
                continue
            start = hour
            while hour < 24 and (day, hour) in cells:
                hour += 1
            out.append({"days": [DAYS[day]], "start": f"{start:02d}:00", "end": f"{hour:02d}:00"})
    return out


class ScheduleEditor(QWidget):
    def __init__(self, parent: QWidget | None = None, default_tz: str = "UTC") -> None:
        super().__init__(parent)
        self.always = QCheckBox("Always on (no schedule)", self)
        self.grid = QTableWidget(7, 24, self)
        self.grid.setVerticalHeaderLabels([d.capitalize() for d in DAYS])
        self.grid.setHorizontalHeaderLabels([f"{h:02d}" for h in range(24)])
        self.grid.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.grid.horizontalHeader().setDefaultSectionSize(26)
        self.grid.verticalHeader().setDefaultSectionSize(22)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.grid.setToolTip("Click or drag over hours to switch them on or off")
        for day in range(7):
            for hour in range(24):
                self.grid.setItem(day, hour, QTableWidgetItem())
        self.grid.cellPressed.connect(self._press)
        self.grid.cellEntered.connect(self._drag)
        self.grid.setMouseTracking(False)
        self.grid.setMinimumSize(26 * 24 + 50, 22 * 7 + 30)
        self.tz = QComboBox(self)
        self.tz.setEditable(True)
        self.tz.addItems(sorted(available_timezones()))
        self.tz.setCurrentText(default_tz)
        self.on_end = QComboBox(self)
        self.on_end.addItem("finish the running task", "finish")
        self.on_end.addItem("requeue the running task at once", "requeue")
        form = QFormLayout()
        form.addRow("Time zone", self.tz)
        form.addRow("At the end of a range", self.on_end)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.always)
        layout.addWidget(self.grid)
        layout.addLayout(form)
        self.always.toggled.connect(lambda on: self.grid.setEnabled(not on))
        self._painting = True
        self._cells: set[tuple[int, int]] = set()

    def _paint(self) -> None:
        for day in range(7):
            for hour in range(24):
                item = self.grid.item(day, hour)
                if item is not None:
                    item.setBackground(QBrush(ON if (day, hour) in self._cells else OFF))

    def _press(self, day: int, hour: int) -> None:
        self._painting = (day, hour) not in self._cells
        self._drag(day, hour)

    def _drag(self, day: int, hour: int) -> None:
        if self._painting:
            self._cells.add((day, hour))
        else:
            self._cells.discard((day, hour))
        self._paint()

    def set_cells(self, cells: set[tuple[int, int]]) -> None:
        self._cells = set(cells)
        self._paint()

    def set_schedule(self, schedule: Schedule | None) -> None:
        self.always.setChecked(schedule is None)
        self.set_cells(hours_of(schedule))
        if schedule is not None:
            self.tz.setCurrentText(str(schedule.get("tz") or "UTC"))
            self.on_end.setCurrentIndex(max(0, self.on_end.findData(schedule.get("on_end"))))

    def schedule(self) -> Schedule | None:
        if self.always.isChecked():
            return None
        return {
            "tz": self.tz.currentText(),
            "ranges": ranges_of(self._cells),
            "on_end": self.on_end.currentData(),
        }


class ScheduleDialog(QDialog):
    def __init__(
        self, names: str, schedule: Schedule | None, default_tz: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Worker schedule")
        self.editor = ScheduleEditor(self, default_tz)
        self.editor.set_schedule(schedule)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        label = QLabel(f"When {names} renders; outside these hours it takes no new work.")
        label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(label)
        layout.addWidget(self.editor)
        layout.addWidget(buttons)
