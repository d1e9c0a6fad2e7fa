"""The status bar's "Job files: 1.2 GB": the disk the manager's file store uses
(`manager` storage, docs/storage.md). Read from a counter kept in memory, every few
seconds: no disk is walked for it."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from flamenco_gui.farm.service import FarmService

REFRESH_MS = 5000


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


class FileStoreLabel(QLabel):
    def __init__(self, service: FarmService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self.setToolTip(
            "Disk used by the files of jobs that travel through the manager; files no job"
            " uses are removed after the grace period (Settings)."
        )
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(REFRESH_MS)
        self.refresh()

    def refresh(self) -> None:
        store = self._service.file_store
        used = store.usage.bytes if store is not None else 0
        self.setText(f"  Job files: {human_bytes(used)}")
