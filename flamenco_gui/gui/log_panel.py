"""The selected task's log: a live tail that follows new lines, with search.

A log can be a hundred thousand lines (Blender prints one per sample), so the panel
never loads a whole file: it shows a window of it, a byte range [start, end). Opening a
task loads its last lines; "Earlier lines" pages backwards; new lines are appended twice
a second (and the view follows them while it is scrolled to the bottom). A search looks
in the window first, then pages through the rest of the file a block at a time with the
loop running in between, and moves the window to the match. Every read is at most
PAGE bytes, through FarmService.read_log like the API's.

The manager's own lines (`[manager …]`: each attempt's header with its worker, start
time and lease, and why an attempt ended when the worker did not end it) are drawn
apart from the render's output by a highlighter, which Qt runs on the lines it lays
out. Lines are not wrapped unless *Wrap* is on. The panel follows the selection: a
task deleted (or its job) clears it rather than leaving stale text under an error.
"""

from __future__ import annotations

import asyncio
import contextlib

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui.farm.errors import FarmError, NotFound
from flamenco_gui.farm.log_notes import PREFIX
from flamenco_gui.farm.service import FarmService
from flamenco_gui.gui.plain import plain_label

TAIL_LINES = 2000
PAGE = 256 * 1024
POLL_MS = 500


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


MANAGER = PREFIX
HEADER = "──"


class ManagerLines(QSyntaxHighlighter):
    """The manager's lines in the accent colour, italic; attempt headers bold."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.note = QTextCharFormat()
        self.note.setForeground(QColor("#2f7fc1"))
        self.note.setFontItalic(True)
        self.header = QTextCharFormat(self.note)
        self.header.setFontItalic(False)
        self.header.setFontWeight(QFont.Weight.Bold)

    def highlightBlock(self, text: str) -> None:
        if text.startswith(MANAGER):
            self.setFormat(0, len(text), self.header if HEADER in text else self.note)


class LogPanel(QWidget):
    def __init__(self, service: FarmService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.task_id: int | None = None
        self.start = self.end = self.file_size = 0
        self._search_task: asyncio.Task[None] | None = None

        self.title = plain_label("Log", bold=True)
        self.info = plain_label()
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find in log")
        self.search.setToolTip("Enter: the previous match (older); Shift+Enter: the next one")
        self.search.setClearButtonEnabled(True)
        self.older = QPushButton("Older")
        self.newer = QPushButton("Newer")
        self.earlier = QPushButton("Earlier lines")
        self.to_end = QPushButton("Jump to end")
        for button in (self.older, self.newer, self.earlier, self.to_end):
            button.setAutoDefault(False)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setUndoRedoEnabled(False)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("Select a task to see its log.")
        self.highlighter = ManagerLines(self.text.document())
        self.wrap = QCheckBox("Wrap")
        self.wrap.setToolTip("Wrap long lines at the panel's edge")
        self.wrap.toggled.connect(self._wrap)

        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.info)
        head.addWidget(self.wrap)
        tools = QHBoxLayout()
        tools.addWidget(self.search, 1)
        for button in (self.older, self.newer, self.earlier, self.to_end):
            tools.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addLayout(tools)
        layout.addWidget(self.text)

        self.search.returnPressed.connect(self._enter)
        self.older.clicked.connect(lambda: self.find_in_log(backward=True))
        self.newer.clicked.connect(lambda: self.find_in_log(backward=False))
        self.earlier.clicked.connect(self.load_earlier)
        self.to_end.clicked.connect(self.jump_to_end)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self._buttons()

    def _wrap(self, on: bool) -> None:
        mode = QPlainTextEdit.LineWrapMode
        self.text.setLineWrapMode(mode.WidgetWidth if on else mode.NoWrap)

    def _enter(self) -> None:
        """Enter in the search box: the previous (older) match; Shift+Enter: the next."""
        shift = QGuiApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier
        self.find_in_log(backward=not shift)

    # -- which task --------------------------------------------------------------------

    def show_task(self, task_id: int | None, title: str = "") -> None:
        if task_id == self.task_id:
            return
        self._cancel_search()
        self.task_id = task_id
        self.title.setText(f"Log · {title}" if title else "Log")
        if task_id is None:
            self.start = self.end = self.file_size = 0
            self.text.clear()
            self._buttons()
            return
        self.jump_to_end()

    def _read(self, **kwargs: int) -> tuple[bytes, int] | None:
        if self.task_id is None:
            return None
        try:
            return self.service.read_log(self.task_id, **kwargs)
        except NotFound:  # deleted meanwhile (or its job): nothing stale stays
            gone = self.task_id
            self.show_task(None)
            self.info.setText(f"task {gone} was deleted")
            return None
        except FarmError as exc:
            self.info.setText(exc.message)
            return None

    # -- the window of the file --------------------------------------------------------

    def _set_window(self, data: bytes, start: int, size: int) -> None:
        self.start, self.end, self.file_size = start, start + len(data), size
        self.text.setPlainText(_decode(data))
        self._buttons()

    def jump_to_end(self) -> None:
        read = self._read(tail=TAIL_LINES)
        if read is None:
            return
        data, size = read
        self._set_window(data, size - len(data), size)
        self.text.moveCursor(QTextCursor.MoveOperation.End)
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.maximum())

    def load_earlier(self) -> None:
        if self.start <= 0:
            return
        offset = max(0, self.start - PAGE)
        read = self._read(offset=offset, limit=self.start - offset)
        if read is None:
            return
        data, self.file_size = read
        if offset > 0:  # begin at a whole line
            cut = data.find(b"\n") + 1
            data, offset = data[cut:], offset + cut
        bar = self.text.verticalScrollBar()
        before, blocks = bar.value(), self.text.blockCount()
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        cursor.insertText(_decode(data))
        self.start = offset
        bar.setValue(before + self.text.blockCount() - blocks)  # the same lines stay in view
        self._buttons()

    def poll(self) -> None:
        """Append what the task wrote since, when the window reaches the file's end."""
        if self.task_id is None or not self.isVisible() or self.end < self.file_size:
            return
        read = self._read(offset=self.end, limit=PAGE)
        if read is None:
            return
        data, size = read
        complete = data[: data.rfind(b"\n") + 1]  # never half a line (or half a character)
        self.file_size = size
        if complete:
            bar = self.text.verticalScrollBar()
            following = bar.value() >= bar.maximum() - 1
            cursor = QTextCursor(self.text.document())
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(_decode(complete))
            self.end += len(complete)
            if following:
                bar.setValue(bar.maximum())
            if self.end < size:
                QTimer.singleShot(0, self.poll)  # more than a page arrived: keep up
        self._buttons()

    def _buttons(self) -> None:
        self.earlier.setEnabled(self.start > 0)
        self.to_end.setEnabled(self.task_id is not None)
        has_task = self.task_id is not None
        self.older.setEnabled(has_task)
        self.newer.setEnabled(has_task)
        if not has_task:
            self.info.setText("")
        elif self.file_size == 0:
            self.info.setText("no output yet")
        elif self.end < self.file_size:
            self.info.setText(f"newer lines not shown ({self.file_size / 1e6:.1f} MB)")
        elif self.start > 0:
            self.info.setText(
                f"last {(self.end - self.start) / 1e3:,.0f} kB of {self.file_size / 1e6:.1f} MB"
            )
        else:
            self.info.setText(f"{self.file_size / 1e3:,.1f} kB")

    # -- search ------------------------------------------------------------------------

    def find_in_log(self, backward: bool = True) -> None:
        needle = self.search.text()
        if not needle or self.task_id is None:
            return
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        if self.text.find(needle, flags):
            return
        self._cancel_search()
        self._search_task = asyncio.ensure_future(self._find_in_file(needle, backward))

    def _cancel_search(self) -> None:
        if self._search_task is not None and not self._search_task.done():
            self._search_task.cancel()
        self._search_task = None

    async def _find_in_file(self, needle: str, backward: bool) -> None:
        """Page through the part of the file outside the window (ASCII letters match
        in any case), then show a window around the match."""
        pattern = needle.encode().lower()
        overlap = len(pattern) - 1
        pos = self.start if backward else self.end
        while (pos > 0) if backward else (pos < self.file_size):
            if backward:
                offset = max(0, pos - PAGE)
                read = self._read(offset=offset, limit=min(pos + overlap, self.file_size) - offset)
            else:
                offset = pos
                read = self._read(offset=offset, limit=PAGE + overlap)
            if read is None:
                return
            data, self.file_size = read
            hit = data.lower().rfind(pattern) if backward else data.lower().find(pattern)
            if hit >= 0:
                self._show_match(offset + hit, needle)
                return
            pos = offset if backward else offset + PAGE
            done = self.file_size - pos if backward else pos
            self.info.setText(f"searching… {100 * done // max(1, self.file_size)}%")
            await asyncio.sleep(0)
        self.info.setText(f"“{needle}” not found")

    def _show_match(self, at: int, needle: str) -> None:
        offset = max(0, at - PAGE // 2)
        read = self._read(offset=offset, limit=PAGE)
        if read is None:
            return
        data, size = read
        if offset > 0:
            cut = data.find(b"\n") + 1
            data, offset = data[cut:], offset + cut
        if offset + len(data) < size:
            data = data[: data.rfind(b"\n") + 1]
        self._set_window(data, offset, size)
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(len(_decode(data[: at - offset])))
        self.text.setTextCursor(cursor)
        with contextlib.suppress(RuntimeError):
            self.text.find(needle)
        self.text.centerCursor()
