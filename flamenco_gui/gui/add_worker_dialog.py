"""First-run help: the exact command that joins a machine to this farm, per OS.

The URL is the one workers on the LAN reach (the manager's interface address, not
localhost) and the credential is a fresh single-use pairing code (the farm token never
has to reach a render node), so the command can be pasted as it is. From a
checkout the worker runs with the checkout's venv (as README's "Adding a render node");
a packaged manager shows the packaged program instead.
"""

from __future__ import annotations

import html
import shlex
import sys
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QFontMetrics, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

SYSTEMS = ("Linux", "Windows", "macOS")
MIN_WIDTH = 720


def _windows_quote(arg: str) -> str:
    """Quote for cmd.exe and PowerShell alike: only when needed, in double quotes."""
    if arg and not any(c in arg for c in " \t\"&|<>^%$`'();,"):
        return arg
    return '"' + arg.replace('"', '\\"') + '"'


def worker_commands(
    url: str, token: str, frozen: bool | None = None, code: str | None = None
) -> dict[str, str]:
    """{system: command line} that starts a worker for the manager at `url`: with the
    pairing `code` when there is one, else with the farm token."""
    frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    credential = ["--pair", code] if code else ["--token", token]
    args = ["worker", "--manager", url, *credential]
    posix = " ".join(shlex.quote(a) for a in args)
    windows = " ".join(_windows_quote(a) for a in args)
    if frozen:
        return {
            "Linux": f"./flamenco {posix}",
            "Windows": f"flamenco.exe {windows}",
            "macOS": f"./flamenco {posix}",
        }
    return {
        "Linux": f".venv/bin/python main.py {posix}",
        "Windows": f".venv\\Scripts\\python.exe main.py {windows}",
        "macOS": f".venv/bin/python main.py {posix}",
    }


def is_loopback(url: str) -> bool:
    return "//127." in url or "//localhost" in url or "//[::1]" in url


class AddWorkerDialog(QDialog):
    def __init__(
        self,
        url: str,
        token: str,
        parent: QWidget | None = None,
        code: str | None = None,
        farm_id: str = "",
        expires_at: float | None = None,
    ) -> None:
        """`expires_at`: when the pairing `code` stops working (wall clock)."""
        super().__init__(parent)
        self.setWindowTitle("Add a worker")
        self.setMinimumWidth(MIN_WIDTH)
        self.commands = worker_commands(url, token, code=code)
        self.copy_buttons: dict[str, QPushButton] = {}
        self.fields: dict[str, QLineEdit] = {}

        intro = QLabel(
            "On each render node, in a Flamenco checkout set up with <code>make deps</code> "
            "(or next to the packaged program), run the command for its system. The worker "
            "appears in the Workers table within seconds and starts taking tasks."
        )
        intro.setWordWrap(True)
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for row, system in enumerate(SYSTEMS):
            # One line, read-only: a wrapped label breaks `--token` at its hyphens, and a
            # line break pasted into a shell would run half a command.
            field = QLineEdit(self.commands[system])
            field.setReadOnly(True)
            field.setFont(mono)
            field.setToolTip(self.commands[system])
            field.setCursorPosition(0)
            copy = QPushButton("Copy")
            copy.setAutoDefault(False)
            copy.clicked.connect(lambda _=False, s=system: self.copy(s))
            grid.addWidget(QLabel(f"<b>{system}</b>"), row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(copy, row, 2)
            self.fields[system] = field
            self.copy_buttons[system] = copy
        until = (
            f"until {time.strftime('%H:%M', time.localtime(expires_at))}"
            if expires_at is not None
            else "for 10 minutes"
        )
        pairing = (
            f"Pairing code <b>{html.escape(code)}</b>: one new worker, valid {until} "
            "(open this dialog again for another). "
            if code
            else ""
        )
        farm = (
            f" Farm <b>{html.escape(farm_id)}</b> (a worker refuses a manager of another farm)."
            if farm_id
            else ""
        )
        notes = QLabel(
            f"Manager: <b>{html.escape(url)}</b>.{farm} {pairing}With the farm token instead, "
            "keep it out of <code>ps</code>: <code>--token-file PATH</code> or "
            "<code>$FLAMENCO_TOKEN</code>; "
            "it is used once, to register. Running any program (<code>command</code> jobs) is "
            "the node's choice: add <code>--accept command</code>."
        )
        notes.setWordWrap(True)
        notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The farm token, hidden until asked for: it is the farm's key, not a node's.
        self.token = QLineEdit(token)
        self.token.setReadOnly(True)
        self.token.setFont(mono)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_token = QPushButton("Show")
        self.show_token.setCheckable(True)
        self.show_token.setAutoDefault(False)
        self.show_token.toggled.connect(self._reveal)
        token_row = QHBoxLayout()
        token_row.addWidget(QLabel("Farm token"))
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.show_token)
        self.warning = QLabel(
            "This manager listens on this computer only: in Settings, set <i>Listen on</i> "
            "to all network interfaces and restart it, so other machines can connect."
        )
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #d64541;")
        self.warning.setVisible(is_loopback(url))
        self.copied = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self._column = QVBoxLayout(self)
        self._column.addWidget(intro)
        self._column.addSpacing(6)
        self._column.addLayout(grid)
        self._column.addSpacing(6)
        self._column.addWidget(notes)
        self._column.addLayout(token_row)
        self._column.addWidget(self.warning)
        self._column.addWidget(self.copied)
        self._column.addWidget(buttons)
        # As wide as the longest command (within the screen), so each shows whole; then
        # the height that wrapped labels need at that width.
        longest = max(QFontMetrics(mono).horizontalAdvance(c) for c in self.commands.values())
        screen = QGuiApplication.primaryScreen()
        limit = int(screen.availableGeometry().width() * 0.9) if screen else 1600
        self.preferred_width = max(MIN_WIDTH, longest + 190)
        self.fit(min(limit, self.preferred_width))

    def fit(self, width: int) -> None:
        self.resize(width, self._column.totalHeightForWidth(width))

    def _reveal(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode
        self.token.setEchoMode(mode.Normal if shown else mode.Password)
        self.show_token.setText("Hide" if shown else "Show")

    def copy(self, system: str) -> None:
        QGuiApplication.clipboard().setText(self.commands[system])
        self.copied.setText(f"Copied the {system} command.")
