"""What to do next, while the farm is empty: the first-run guide above the tables.

An empty farm is empty tables and greyed buttons; this says what to do instead, in
order: add a worker (with this computer's command and a fresh pairing code, ready to
paste), or render on this computer too, then submit a job. Each step is ticked when
done; the guide goes once there is a worker and a job, and comes back if both tables
empty again. It reads only the tables' counts, when a batch is applied.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QFrame, QGridLayout, QLineEdit, QPushButton, QWidget

from flamenco_gui.farm.pairing import DEFAULT_TTL, PairingCodes
from flamenco_gui.gui.add_worker_dialog import worker_commands
from flamenco_gui.gui.plain import plain_label
from flamenco_gui.gui.table_model import LiveTableModel

SYSTEM = {"Darwin": "macOS", "Windows": "Windows"}.get(platform.system(), "Linux")
DONE, TODO = "✓", "•"


class FirstRunGuide(QFrame):
    visibility = Signal(bool)  # whether the guide is wanted (its scroll area follows)

    def __init__(
        self,
        workers: LiveTableModel,
        jobs: LiveTableModel,
        pairing: PairingCodes,
        url: Callable[[], str],
        actions: tuple[QAction, QAction, QAction],  # add a worker, render here, submit
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workers, self.jobs = workers, jobs
        self._pairing, self._url = pairing, url
        self._expires = 0.0
        self.wanted = True
        self.setObjectName("first-run")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#first-run { background: palette(alternate-base); }")
        add, local, submit = actions

        self.heading = plain_label("This farm is empty. To render:", bold=True)
        self.worker_mark = plain_label()
        self.worker_text = plain_label(
            f"1. Add a worker: on each render node run this ({SYSTEM}), "
            "or open Add a worker… for the other systems."
        )
        self.command = QLineEdit()
        self.command.setReadOnly(True)
        self.command.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy = QPushButton("Copy")
        self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.command.text()))
        self.add = QPushButton(add.text())
        self.add.clicked.connect(add.trigger)
        self.local_text = plain_label("   Or let this computer render too:")
        self.local = QPushButton(local.text())
        self.local.clicked.connect(local.trigger)
        self.code_note = plain_label()
        self.code_note.setStyleSheet("color: palette(placeholder-text);")
        self.job_mark = plain_label()
        self.job_text = plain_label("2. Submit a job: a .blend to render, or a command.")
        self.submit = QPushButton(submit.text())
        self.submit.clicked.connect(submit.trigger)

        grid = QGridLayout(self)
        grid.setContentsMargins(10, 8, 10, 8)
        grid.setColumnStretch(2, 1)
        grid.addWidget(self.heading, 0, 0, 1, 5)
        grid.addWidget(self.worker_mark, 1, 0)
        grid.addWidget(self.worker_text, 1, 1, 1, 2)
        grid.addWidget(self.add, 1, 4)
        grid.addWidget(self.command, 2, 1, 1, 2)
        grid.addWidget(self.copy, 2, 3)
        grid.addWidget(self.code_note, 3, 1, 1, 2)
        grid.addWidget(self.local_text, 4, 1)
        grid.addWidget(self.local, 4, 4)
        grid.addWidget(self.job_mark, 5, 0)
        grid.addWidget(self.job_text, 5, 1, 1, 2)
        grid.addWidget(self.submit, 5, 4)
        for label in (self.worker_text, self.job_text, self.code_note):
            label.setWordWrap(True)  # a small window stays small
        self.command.setMinimumWidth(120)
        for mark in (self.worker_mark, self.job_mark):
            mark.setAlignment(Qt.AlignmentFlag.AlignCenter)
            mark.setMinimumWidth(16)

        self._renew = QTimer(self)
        self._renew.setInterval(30_000)  # a code that expired is replaced while shown
        self._renew.timeout.connect(self._code)
        for model in (workers, jobs):
            for signal in (model.flushed, model.modelReset):
                signal.connect(self.update_steps)
        self.update_steps()

    def _code(self) -> None:
        if time.time() < self._expires - 60:
            return
        code = self._pairing.issue(DEFAULT_TTL)
        self._expires = code.expires_at
        self.command.setText(worker_commands(self._url(), "", code=code.code)[SYSTEM])
        self.command.setCursorPosition(0)
        until = time.strftime("%H:%M", time.localtime(code.expires_at))
        self.code_note.setText(
            f"Pairing code {code.code}: one worker, until {until} (a new one comes after)."
        )

    def update_steps(self) -> None:
        has_worker, has_job = self.workers.known() > 0, self.jobs.known() > 0
        wanted = not (has_worker and has_job)
        if wanted != self.wanted:
            self.wanted = wanted
            self.visibility.emit(wanted)
        self.worker_mark.setText(DONE if has_worker else TODO)
        self.job_mark.setText(DONE if has_job else TODO)
        for widget in (self.command, self.copy, self.code_note, self.local_text, self.local):
            widget.setVisible(not has_worker)
        if wanted and not has_worker:
            self._code()
            self._renew.start()
        else:
            self._renew.stop()
