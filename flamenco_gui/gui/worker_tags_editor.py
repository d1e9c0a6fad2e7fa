"""A worker's tags, edited in the window: one line of comma-separated tags, checked as
typed by the farm's own rule (farm/tags.py). Self-contained: the dialog here, or a
worker details panel, embeds `TagsEditor` and reads `tags()`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui.farm.tags import clean_tags, decode_tags


def shown_tags(row: Mapping[str, Any]) -> list[str]:
    """The tags in force on a worker row: the wrangler's, else those it offered."""
    tags = row.get("tags")
    return decode_tags(tags if tags is not None else row.get("tags_offered"))


class TagsEditor(QWidget):
    """`tags()` is the cleaned list, or None while the text is not valid (`error`)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = QLineEdit(self)
        self.line.setPlaceholderText("gpu, lookdev")
        self.line.setToolTip(
            "Comma-separated. A job naming tags runs only on workers with all of them."
        )
        self.error = QLabel(self)
        self.error.setStyleSheet("color: #c0392b")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line)
        layout.addWidget(self.error)
        self.line.textChanged.connect(self._check)
        self._check()

    def set_tags(self, tags: Sequence[str]) -> None:
        self.line.setText(", ".join(tags))

    def tags(self) -> list[str] | None:
        try:
            return clean_tags(self.line.text().split(","))
        except ValueError:
            return None

    def _check(self) -> None:
        try:
            clean_tags(self.line.text().split(","))
            self.error.setText("")
        except ValueError as exc:
            self.error.setText(str(exc))
        self.error.setVisible(bool(self.error.text()))
        self.changed.emit()


class TagsDialog(QDialog):
    def __init__(self, names: str, tags: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Worker tags")
        self.editor = TagsEditor(self)
        self.editor.set_tags(tags)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.editor.changed.connect(lambda: self.ok.setEnabled(self.editor.tags() is not None))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Tags of {names} (they replace those the worker offered):"))
        layout.addWidget(self.editor)
        layout.addWidget(buttons)
