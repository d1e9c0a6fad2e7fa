"""User text is plain text in the window.

QLabel, QMessageBox and tooltips guess "rich text" from anything that looks like a tag,
so a job named `<img src=file:///…>` would load a local image into a title. Labels that
show names, paths, messages or errors are built here with their format fixed to plain
text; emphasis is the font's, not markup's. A tooltip cannot be told its format, so
user text in one is escaped inside an explicit rich-text wrapper.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


def plain(label: QLabel) -> QLabel:
    """`label`, showing its text exactly as given (no markup, no links, no images)."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_label(text: str = "", bold: bool = False, parent: QWidget | None = None) -> QLabel:
    label = plain(QLabel(parent))
    if bold:
        font = label.font()
        font.setBold(True)
        label.setFont(font)
    label.setText(text)
    return label


def tooltip(text: str) -> str:
    """A tooltip that shows `text` as written ("<qt>" forces rich text, so the escapes are
    decoded rather than shown, and whitespace wraps like a paragraph)."""
    return f"<qt>{html.escape(text)}</qt>" if text else ""
