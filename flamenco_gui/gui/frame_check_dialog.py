"""Check frames, then re-render the missing and broken ones: the one click of issue 17.

Opens on a job, checks its frames at once (FarmService.check_frames: on a thread, the
loop runs), lists what is missing or broken and why, and "Re-render these" queues tasks
for exactly those frames. Non-modal: the farm keeps running while it is open.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui.farm.errors import FarmError
from flamenco_gui.farm.service import FarmService


class FrameCheckDialog(QDialog):
    rerendered = Signal(str)  # what was queued, for the status bar

    def __init__(self, service: FarmService, job_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.job_id = job_id
        self.found: dict[str, Any] | None = None
        self.setWindowTitle(f"Check frames — job {job_id}")
        self.resize(640, 360)
        self.summary = QLabel("Checking…")
        self.summary.setWordWrap(True)
        self.problems = QListWidget()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.rerender_button = QPushButton("Re-render these")
        self.rerender_button.setEnabled(False)
        self.rerender_button.clicked.connect(lambda: asyncio.ensure_future(self.rerender()))
        buttons.addButton(self.rerender_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.problems)
        layout.addWidget(buttons)
        self.checking = asyncio.ensure_future(self.check())

    def frames(self) -> list[int]:
        """The frames to render again: the missing and the broken ones."""
        if self.found is None:
            return []
        return sorted([*self.found["missing"], *(b["frame"] for b in self.found["broken"])])

    async def check(self) -> None:
        try:
            self.found = found = await self.service.check_frames(self.job_id)
        except FarmError as exc:
            self.summary.setText(str(exc))
            return
        self.problems.clear()
        for frame in found["missing"]:
            self.problems.addItem(f"frame {frame}: missing")
        for broken in found["broken"]:
            self.problems.addItem(broken["reason"])
        bad = len(self.frames())
        where = (
            "in the output folder"
            if found["source"] == "output folder"
            else ("from the workers' own checks (the manager cannot see the output folder)")
        )
        self.summary.setText(
            f"{found['frames']} frames checked {where}: "
            + (f"{len(found['missing'])} missing, {len(found['broken'])} broken." if bad
               else "every one is there and sound.")
        )  # fmt: skip
        self.rerender_button.setEnabled(bad > 0)

    async def rerender(self) -> None:
        frames = self.frames()
        self.rerender_button.setEnabled(False)
        try:
            await self.service.rerender(self.job_id, frames)
        except FarmError as exc:
            self.summary.setText(str(exc))
            return
        shown = ", ".join(map(str, frames[:10])) + ("…" if len(frames) > 10 else "")
        self.rerendered.emit(f"Job {self.job_id}: rendering frames {shown} again")
        self.accept()
