"""The selected job's latest rendered frames: the latest large, all in a filmstrip.

Workers upload a small JPEG of each frame they save; the manager keeps the newest
twelve per job (FarmService.job_previews / job_preview). The filmstrip shows them in
frame order; the latest is the highest frame rendered (with several workers, the frame
that arrived last may be an earlier one). The panel shows the latest large and follows
new uploads (the window forwards the service's "preview" events); a click on another
frame in the filmstrip holds that one until the latest is clicked again, the way the
log panel stops following while scrolled up.

Where the work happens, and why: the reads go through the service on the loop thread,
one frame per turn of the loop, like the log panel's pages. They cannot go to a thread:
job_preview checks the job in SQLite, and the store's one connection is the loop's.
Each read is one thumbnail (320 px from our workers, at most 512 KiB and 1024 px a side
by the service's check), and a frame is read and decoded once: decoded images are kept
per (frame, time, size) while the job is shown, so a new upload costs one read and one
decode, not twelve. Decoding on a thread would not spare the loop either: PySide holds
the GIL through QImage's JPEG decoder (measured: the loop thread stalls for the whole
decode).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui.farm.errors import FarmError
from flamenco_gui.farm.service import FarmService
from flamenco_gui.gui.plain import plain, plain_label
from flamenco_gui.rows import PreviewEntry

THUMB = QSize(112, 63)  # a filmstrip frame (16:9 fits; other shapes keep their aspect)
NO_JOB = "Select a job to see its latest frames."
NO_PREVIEWS = "No previews yet for this job"
FRAME_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True, slots=True)
class Frame:
    """One kept preview: the service's entry and its decoded image."""

    frame: int
    task_id: int
    time: float
    image: QImage

    @property
    def key(self) -> tuple[int, float, int]:
        return (self.frame, self.time, self.task_id)


class PreviewImage(QLabel):
    """A label that shows an image as large as it fits, kept to its aspect ratio.

    The image is scaled from the decoded original at each resize (Qt's smooth scaling),
    so shrinking and growing the panel never compounds blur. Its size hint is ignored:
    a 1024 px preview must not push the window wider."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(64, 36)  # a small window stays small; the picture shrinks
        self.setWordWrap(True)
        plain(self)  # its text may be an error naming a file
        self.setStyleSheet("color: palette(placeholder-text);")

    def set_image(self, image: QImage | None, text: str = "") -> None:
        self._image = image
        if image is None:
            self.clear()
            self.setText(text)
        else:
            self._rescale()

    def _rescale(self) -> None:
        if self._image is None:
            return
        ratio = self.devicePixelRatioF()
        size = self.contentsRect().size() * ratio
        if size.width() < 1 or size.height() < 1:
            return
        scaled = self._image.scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        pixmap = QPixmap.fromImage(scaled)
        pixmap.setDevicePixelRatio(ratio)  # sharp on a HiDPI screen
        self.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()


class PreviewPanel(QWidget):
    count_changed = Signal(int)  # frames in the filmstrip (the window's tab shows it)

    def __init__(self, service: FarmService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.job_id: int | None = None
        self.frames: list[Frame] = []  # in frame order: the filmstrip's
        self.current: int | None = None  # the frame shown large
        self.follow = True  # show each new frame as it arrives
        self._cache: dict[tuple[int, float, int], QImage] = {}
        self._dirty = False
        self._loading: asyncio.Task[None] | None = None

        self.title = plain_label("Preview", bold=True)
        self.info = plain_label()
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.image = PreviewImage()
        self.image.set_image(None, NO_JOB)
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setUniformItemSizes(True)
        self.strip.setSpacing(4)
        self.strip.setIconSize(THUMB)
        self.strip.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.strip.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Room for a frame, its number and the scroll bar; nothing is measured per item.
        line = self.strip.fontMetrics().height()
        scroll = self.strip.horizontalScrollBar().sizeHint().height()
        self.strip.setFixedHeight(THUMB.height() + line + scroll + 18)
        self.strip.setToolTip(
            "Click a frame to show it large; click the latest (rightmost) to follow again"
        )
        self.strip.currentRowChanged.connect(self._picked)

        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.strip)
        self._updating = False

    # -- which job ---------------------------------------------------------------------

    def show_job(self, job_id: int | None, name: str = "") -> None:
        """Show `job_id`'s previews (None: no job); the same job again changes nothing."""
        if job_id == self.job_id:
            return
        self.job_id = job_id
        self.title.setText(f"Preview · {name}" if name else "Preview")
        self._cache.clear()
        self.follow = True
        self.current = None
        self._apply([])
        if job_id is not None:
            self.refresh()

    def on_preview(self, job_id: int) -> None:
        """A worker uploaded a frame of `job_id` (the service's "preview" event)."""
        if job_id == self.job_id:
            self.refresh()

    def refresh(self) -> None:
        """Read the shown job's previews again, soon. Uploads arriving while a read is
        under way are folded into one more pass, never a pass per upload."""
        self._dirty = True
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(self._load())

    def stop(self) -> None:
        """The window closes: no read may touch the widgets after this."""
        self.job_id = None
        if self._loading is not None:
            self._loading.cancel()
            self._loading = None

    async def loaded(self) -> None:
        """Wait for the read under way, if any (tests and screenshots)."""
        while self._loading is not None and not self._loading.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._loading)

    # -- reading -----------------------------------------------------------------------

    async def _load(self) -> None:
        await asyncio.sleep(0)  # events of this turn of the loop, folded into one pass
        while self._dirty:
            self._dirty = False
            job_id = self.job_id
            if job_id is None:
                return
            try:
                entries = self.service.job_previews(job_id)
            except (FarmError, OSError):  # deleted meanwhile, or the dir is unreadable
                entries = []
            newest: dict[int, PreviewEntry] = {}
            for entry in entries:  # oldest first; a frame rendered twice shows once
                newest.pop(entry["frame"], None)
                newest[entry["frame"]] = entry
            frames: list[Frame] = []
            for entry in newest.values():
                key = (entry["frame"], entry["time"], entry["task_id"])
                image = self._cache.get(key)
                if image is None:
                    await asyncio.sleep(0)  # one read and decode per turn of the loop
                    if self.job_id != job_id:
                        self._dirty = True  # another job was chosen: start over
                        break
                    image = self._read(job_id, entry["frame"])
                    if image is None:
                        continue  # pruned by a newer upload meanwhile
                    self._cache[key] = image
                frames.append(Frame(entry["frame"], entry["task_id"], entry["time"], image))
            else:
                frames.sort(key=lambda f: f.frame)  # the latest: the highest frame
                if self.job_id == job_id:
                    keep = {f.key for f in frames}
                    self._cache = {k: v for k, v in self._cache.items() if k in keep}
                    self._apply(frames)

    def _read(self, job_id: int, frame: int) -> QImage | None:
        try:
            data = self.service.job_preview(job_id, frame)
        except (FarmError, OSError):
            return None
        # The stub types `format` as bytes, but PySide6 6.11 takes only a str here (a bytes
        # value raises "called with wrong argument values").
        image = QImage.fromData(data, "JPEG")  # type: ignore[arg-type]
        return None if image.isNull() else image

    # -- showing -----------------------------------------------------------------------

    def _apply(self, frames: list[Frame]) -> None:
        old = [f.key for f in self.frames]
        self.frames = frames
        numbers = [f.frame for f in frames]
        # Follow on; also when the held frame was pruned, or is the latest again.
        if self.follow or self.current not in numbers or self.current == numbers[-1]:
            self.current = numbers[-1] if numbers else None
            self.follow = True
        if [f.key for f in frames] != old or self.strip.count() != len(frames):
            self._fill_strip()
            self.count_changed.emit(len(frames))
        self._show_current()

    def _fill_strip(self) -> None:
        self._updating = True
        try:
            self.strip.clear()
            ratio = self.devicePixelRatioF()
            for f in self.frames:
                thumb = f.image.scaled(
                    THUMB * ratio,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
                pixmap = QPixmap.fromImage(thumb)
                pixmap.setDevicePixelRatio(ratio)
                icon = QIcon(pixmap)
                icon.addPixmap(pixmap, QIcon.Mode.Selected)  # true colours, not tinted
                item = QListWidgetItem(icon, f"frame {f.frame}")
                item.setData(FRAME_ROLE, f.frame)
                item.setToolTip(f"frame {f.frame} · task {f.task_id} · {_clock(f.time)}")
                self.strip.addItem(item)
        finally:
            self._updating = False

    def _show_current(self) -> None:
        shown = next((f for f in self.frames if f.frame == self.current), None)
        if shown is None:
            self.image.set_image(None, NO_PREVIEWS if self.job_id is not None else NO_JOB)
            self.info.setText("")
            return
        self.image.set_image(shown.image)
        w, h = shown.image.width(), shown.image.height()
        following = "" if self.follow else " · held (click the latest to follow)"
        self.info.setText(
            f"frame {shown.frame} · task {shown.task_id} · {_clock(shown.time)} · "
            f"{w}x{h}{following}"
        )
        row = self.frames.index(shown)
        if self.strip.currentRow() != row:
            self._updating = True
            self.strip.setCurrentRow(row)
            self._updating = False
        self.strip.scrollToItem(self.strip.item(row))

    def _picked(self, row: int) -> None:
        """A person chose a frame in the filmstrip (not the panel following)."""
        if self._updating or not 0 <= row < len(self.frames):
            return
        self.pick(self.frames[row].frame)

    def pick(self, frame: int) -> None:
        """Show `frame` large; picking the newest follows new frames again."""
        if frame not in [f.frame for f in self.frames]:
            return
        self.current = frame
        self.follow = frame == self.frames[-1].frame
        self._show_current()


def _clock(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp))
