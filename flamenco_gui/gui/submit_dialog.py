"""Submit a job from the window: a .blend (or a command), frames, chunks, priority.

Checked with the compilers' own pydantic settings models (the same the API validates
with), each reason in words under its field, in a line kept for it (the form never
moves under the mouse); a field's reason shows once the field is left, every reason on
Submit. A .blend's frame range, resolution, engine and output are read from the file
(blend_info.py, on a thread) and shown under it, with a warning when the file is not
where the workers will look. Submission goes through FarmService.submit_job,
which compiles on a thread and inserts in chunks, so a 10,000-task job does not stall
the window. The dialog never blocks the loop: it is opened with open(), not exec().
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any, cast, get_args

from pydantic import ValidationError
from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui.blend_info import BlendInfo, BlendUnreadable, read_blend_info
from flamenco_gui.compilers import get_compiler
from flamenco_gui.compilers.base import MAX_FRAME
from flamenco_gui.compilers.blender_render import BlenderRenderSettings
from flamenco_gui.farm.errors import FarmError
from flamenco_gui.farm.jobs import MAX_TASKS_PER_JOB
from flamenco_gui.farm.service import FarmService
from flamenco_gui.gui.pack_submit import store_pack
from flamenco_gui.gui.plain import plain_label, tooltip
from flamenco_gui.submit.command import MANAGER_OUTPUT
from flamenco_gui.submit.packing import under_path_variable

JOB_TYPES = [("Blender render", "blender_render"), ("Command", "command")]
# docs/storage.md: the default is "manager" unless the file is under a path variable.
STORAGE = [
    ("Through the manager (no shared storage)", "manager"),
    ("Shared storage (the workers see this path)", "shared"),
]
FORMATS = list(get_args(BlenderRenderSettings.model_fields["format"].annotation))
ERROR_STYLE = "color: #d64541;"
NOTE_STYLE = "color: palette(placeholder-text);"
WARN_STYLE = "color: #c77700;"


# Stand-ins for fields that failed, so the rules about several fields (which pydantic
# checks only once every field is valid) are reported at the same time.
_STAND_INS: dict[str, Any] = {"filepath": "x", "render_output": "x", "argv": ["x"]}


def settings_errors(job_type: str, settings: dict[str, Any]) -> dict[str, str]:
    """The compiler's verdict on `settings`, as {field: reason}. A rule about two
    fields (frame_end before frame_start) goes to the first field its message names."""
    compiler = get_compiler(job_type)
    if compiler is None:
        return {"type": f"unknown job type {job_type!r}"}
    errors = _errors(compiler.settings_model, settings)
    stand_ins = {k: _STAND_INS[k] for k in errors if k in _STAND_INS}
    if stand_ins and len(stand_ins) == len(errors):
        for key, reason in _errors(compiler.settings_model, {**settings, **stand_ins}).items():
            errors.setdefault(key, reason)
    return errors


# What to say when a field is empty, in a wrangler's words (not pydantic's).
REQUIRED = {
    "argv": "enter the program to run, with its arguments",
    "filepath": "choose the .blend file to render",
    "render_output": "required: where the frames go, e.g. /mnt/render/shot/######",
}


# The compilers' own rules (their messages name fields, for the API) in the form's words.
REWORDED = {
    "frame_end must not be before frame_start": "the last frame comes before the first",
    "argv[0] must name a program": "the command must start with the program to run",
}


def _words(err: Any, field: str) -> str:
    """A pydantic error as a reason a wrangler reads."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("string_too_short", "too_short", "missing"):
        return REQUIRED.get(field, "required")
    if kind == "greater_than_equal":
        return f"at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"at most {ctx.get('le')}"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    return str(err["msg"]).removeprefix("Value error, ")


def _errors(model: Any, settings: dict[str, Any]) -> dict[str, str]:
    try:
        model.model_validate(settings)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            msg = _words(err, field)
            if not field:
                named = [(msg.find(f), f) for f in settings if f in msg]
                field = min(named)[1] if named else ""
            errors.setdefault(field, REWORDED.get(msg, msg))
        return errors
    return {}


def task_count(frame_start: int, frame_end: int, chunk_size: int) -> int:
    return max(0, (frame_end - frame_start) // chunk_size + 1)


class SubmitDialog(QDialog):
    submitted = Signal(dict)  # the job row, once every task is in

    def __init__(
        self, service: FarmService, settings: QSettings | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.qsettings = settings
        self.submitting: asyncio.Future[None] | None = None
        self.setWindowTitle("Submit a job")
        self.setMinimumWidth(560)
        self.errors: dict[str, QLabel] = {}

        self.name = QLineEdit()
        self.name.setMaxLength(255)
        self.name.setPlaceholderText("e.g. sc030_chase_anim")
        self.job_type = QComboBox()
        for label, value in JOB_TYPES:
            self.job_type.addItem(label, value)
        self.filepath = QLineEdit()
        self.filepath.setPlaceholderText("/mnt/projects/shot.blend (as the workers see it)")
        self.browse = QPushButton("Browse…")
        self.browse.setAutoDefault(False)
        self.storage = QComboBox()
        for label, value in STORAGE:
            self.storage.addItem(label, value)
        self.storage.setToolTip(
            "Through the manager: the .blend and its files are packed and stored here;"
            " frames come back to the output folder. Shared: workers read the path."
        )
        self._storage_touched = False
        self.storage.activated.connect(lambda _: setattr(self, "_storage_touched", True))
        self.frame_start = self._spin(-MAX_FRAME, MAX_FRAME, 1)
        self.frame_end = self._spin(-MAX_FRAME, MAX_FRAME, 250)
        self.chunk_size = self._spin(1, MAX_TASKS_PER_JOB, 10)
        self.priority = self._spin(-1_000_000, 1_000_000, 50)
        self.priority.setToolTip("Higher renders first")
        self.render_output = QLineEdit()
        self.render_output.setPlaceholderText("/mnt/render/shot/###### (# is the frame number)")
        self.format = QComboBox()
        self.format.addItems(FORMATS)
        self.argv = QLineEdit()
        self.argv.setPlaceholderText(
            "program --frame {frame}   (quoted like a shell; no shell runs)"
        )
        self.note = QLabel()
        self.note.setStyleSheet(NOTE_STYLE)
        self.note.setFixedHeight(self.note.fontMetrics().height())  # kept: nothing moves
        self.blend_note = plain_label()  # what the .blend says, or why it cannot be read
        self.blend_note.setWordWrap(True)
        self.blend_note.setStyleSheet(NOTE_STYLE)
        # Two lines kept for it: reading the file must not push the form down.
        self.blend_note.setMinimumHeight(2 * self.blend_note.fontMetrics().lineSpacing())
        self.blend_info: BlendInfo | None = None
        self.reading: asyncio.Future[None] | None = None
        self._read_timer = QTimer(self)
        self._read_timer.setSingleShot(True)
        self._read_timer.setInterval(300)  # typed paths are read once typing pauses
        self._read_timer.timeout.connect(self._read_blend_soon)
        self._left: set[str] = set()  # fields left once (their reasons show)
        self._all = False  # Submit was pressed: every reason shows
        self.general = plain_label()
        self.general.setStyleSheet(ERROR_STYLE)
        self.general.setWordWrap(True)

        frames = QHBoxLayout()
        frames.setContentsMargins(0, 0, 0, 0)
        frames.addWidget(self.frame_start)
        frames.addWidget(QLabel("to"))
        frames.addWidget(self.frame_end)
        frames.addStretch(1)
        file_row = QHBoxLayout()
        file_row.setContentsMargins(0, 0, 0, 0)
        file_row.addWidget(self.filepath, 1)
        file_row.addWidget(self.browse)

        self.form = QFormLayout()
        self.form.addRow("Name", self._field("name", self.name))
        self.form.addRow("Job type", self._field("type", self.job_type))
        self.form.addRow(".blend file", self._field("filepath", file_row, note=self.blend_note))
        self.form.addRow("Storage", self._field("storage", self.storage))
        self.form.addRow("Command", self._field("argv", self.argv))
        self.form.addRow("Frames", self._field("frame_start", frames, also=("frame_end",)))
        self.form.addRow("Chunk size", self._field("chunk_size", self.chunk_size, note=self.note))
        self.form.addRow("Priority", self._field("priority", self.priority))
        self.form.addRow("Output path", self._field("render_output", self.render_output))
        self.form.addRow("Format", self._field("format", self.format))

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.submit_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.submit_button.setText("Submit")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.general)
        layout.addWidget(self.buttons)

        self.browse.clicked.connect(self.choose_file)
        self.filepath.textChanged.connect(self._file_changed)
        for edit in (self.name, self.render_output, self.argv):
            edit.textChanged.connect(self.validate)
        for spin in (self.frame_start, self.frame_end, self.chunk_size, self.priority):
            spin.valueChanged.connect(self.validate)
        left = (
            (self.name, ("name",)),
            (self.filepath, ("filepath",)),
            (self.argv, ("argv",)),
            (self.frame_start, ("frame_start", "frame_end")),
            (self.frame_end, ("frame_start", "frame_end")),
            (self.chunk_size, ("chunk_size",)),
            (self.priority, ("priority",)),
            (self.render_output, ("render_output",)),
        )
        for widget, keys in left:
            widget.editingFinished.connect(lambda k=keys: self._leave(k))
        self.job_type.currentIndexChanged.connect(self._type_changed)
        self.format.currentIndexChanged.connect(self.validate)
        self.storage.currentIndexChanged.connect(self._type_changed)
        self._output_touched = False
        self.render_output.textEdited.connect(lambda _: setattr(self, "_output_touched", True))
        self._type_changed()

    # -- layout helpers ----------------------------------------------------------------

    @staticmethod
    def _spin(low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setMinimumWidth(110)
        return spin

    def _field(
        self,
        key: str,
        widget: QWidget | QHBoxLayout,
        also: tuple[str, ...] = (),
        note: QLabel | None = None,
    ) -> QWidget:
        """The field with its reason right under it (hidden while there is none)."""
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        if isinstance(widget, QHBoxLayout):
            column.addLayout(widget)
        else:
            column.addWidget(widget)
        error = plain_label()
        error.setStyleSheet(ERROR_STYLE)
        # One line kept for the reason, shown or not, so the form never moves; a long
        # reason is cut at the edge and whole in the tooltip.
        error.setFixedHeight(error.fontMetrics().height())
        error.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        column.addWidget(error)
        if note is not None:
            column.addWidget(note)
        for name in (key, *also):
            self.errors[name] = error
        return box

    # -- what the fields say -----------------------------------------------------------

    @property
    def type_name(self) -> str:
        return str(self.job_type.currentData())

    @property
    def storage_mode(self) -> str:
        return str(self.storage.currentData())

    def job_settings(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The compiler settings the fields describe, and errors found in reading them."""
        frames = {"frame_start": self.frame_start.value(), "frame_end": self.frame_end.value()}
        if self.type_name == "command":
            try:
                argv = shlex.split(self.argv.text())
            except ValueError as exc:
                return {"argv": [], **frames}, {"argv": str(exc)}
            return {"argv": argv, **frames}, {}
        return {
            "filepath": self.filepath.text().strip(),
            "render_output": (
                MANAGER_OUTPUT
                if self.storage_mode == "manager"
                else self.render_output.text().strip()
            ),
            "format": self.format.currentText(),
            **frames,
        }, {}

    def _leave(self, keys: tuple[str, ...]) -> None:
        self._left.update(keys)
        self.validate()

    def validate(self) -> dict[str, str]:
        """Every reason the job cannot be submitted as it stands ({} when it can); the
        ones of fields left (or all, after Submit) are shown."""
        settings, errors = self.job_settings()
        errors = {**settings_errors(self.type_name, settings), **errors}
        if not self.name.text().strip():
            errors["name"] = "give the job a name"
        count = task_count(
            self.frame_start.value(), self.frame_end.value(), self.chunk_size.value()
        )
        if count > MAX_TASKS_PER_JOB:
            errors["chunk_size"] = (
                f"{count:,} tasks; at most {MAX_TASKS_PER_JOB:,} per job: use larger chunks"
            )
        counted = count > 0 and "chunk_size" not in errors
        self.note.setText(f"{count:,} task{'s' if count != 1 else ''}" if counted else "")
        self._show({k: v for k, v in errors.items() if self._all or k in self._left})
        self.submit_button.setEnabled(self.submitting is None)
        return errors

    def _show(self, errors: dict[str, str]) -> None:
        shown: dict[int, list[str]] = {}
        for key, label in self.errors.items():
            if key in errors:
                shown.setdefault(id(label), []).append(errors[key])
        for label in {id(v): v for v in self.errors.values()}.values():
            text = "; ".join(shown.get(id(label), []))
            label.setText(text)
            label.setToolTip(tooltip(text))
        unplaced = [f"{k}: {v}" for k, v in errors.items() if k not in self.errors]
        self._say("\n".join(unplaced))

    def _say(self, text: str) -> None:
        """The message under the form (hidden when there is none, so it takes no room)."""
        self.general.setText(text)
        self.general.setVisible(bool(text))

    def _type_changed(self) -> None:
        blender = self.type_name == "blender_render"
        for widget in (self.filepath, self.storage, self.format):
            self.form.setRowVisible(self._row_of(widget), blender)
        # A manager job's frames land in its folder under the manager's output root.
        self.form.setRowVisible(
            self._row_of(self.render_output), blender and self.storage_mode == "shared"
        )
        self.form.setRowVisible(self._row_of(self.argv), not blender)
        self.validate()

    def _row_of(self, widget: QWidget) -> int:
        """The form row of `widget`'s container (made by `_field`)."""
        container = widget.parentWidget()
        assert container is not None  # every field sits in its row's container
        # PySide6's stub says `object`; it returns (row, role), as getLayoutPosition does.
        found = self.form.getWidgetPosition(container)
        row, _ = cast(tuple[int, QFormLayout.ItemRole], found)
        return row

    # -- the .blend file ---------------------------------------------------------------

    def choose_file(self) -> QFileDialog:
        start = self.qsettings.value("submit/last_dir", "") if self.qsettings else ""
        dialog = QFileDialog(self, "Choose a .blend file", str(start or Path.home()))
        dialog.setNameFilters(["Blender files (*.blend)", "All files (*)"])
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.filepath.setText)
        dialog.open()
        return dialog

    def _file_changed(self, text: str) -> None:
        path = Path(text.strip())
        if text.strip() and path.suffix == ".blend":
            if not self.name.text().strip():
                self.name.setText(path.stem)
            if not self._output_touched:
                self.render_output.setText(str(path.parent / "render" / path.stem / "######"))
            if self.qsettings is not None:
                self.qsettings.setValue("submit/last_dir", str(path.parent))
            if not self._storage_touched:
                shared = under_path_variable(path, self.service.path_variables())
                self.storage.setCurrentIndex(
                    self.storage.findData("shared" if shared else "manager")
                )
        self.blend_info = None
        self.blend_note.setText("")
        self._read_timer.start()
        self.validate()

    def _read_blend_soon(self) -> None:
        text = self.filepath.text().strip()
        if text and self.type_name == "blender_render":
            self.reading = asyncio.ensure_future(self.read_blend(text))

    async def read_blend(self, text: str) -> None:
        """Read the .blend on a thread; its scene fills the frames and shows under the
        field. A path typed on meanwhile wins: a late answer for an older one is dropped."""
        path = Path(text)
        if not path.is_absolute():
            self._blend_note(
                "A relative path: workers resolve it in their own work directory. "
                "Give the path as the workers see it, from the root.",
                warn=True,
            )
            return
        try:
            info = await asyncio.to_thread(read_blend_info, path)
        except BlendUnreadable as exc:
            if self.filepath.text().strip() != text:
                return
            missing = not await asyncio.to_thread(path.exists)
            if self.filepath.text().strip() != text:
                return
            if missing:
                self._blend_note(
                    f"Not found: workers will look for {path} (on their machine, after the "
                    "path variables in Settings). Check that it is there, shared under "
                    "that path.",
                    warn=True,
                )
            else:
                self._blend_note(str(exc), warn=True)
            return
        if self.filepath.text().strip() != text:
            return
        self.blend_info = info
        self.frame_start.setValue(info.frame_start)
        self.frame_end.setValue(info.frame_end)
        if info.file_format is not None and info.file_format in FORMATS:
            self.format.setCurrentText(info.file_format)
        step = f" (step {info.frame_step})" if info.frame_step != 1 else ""
        self._blend_note(
            f"Scene '{info.scene}': frames {info.frame_start}-{info.frame_end}{step}, "
            f"{info.size} px ({info.percentage} %), {info.engine.title()}, "
            f"its own output {info.output or '(none)'}"
            + (f" as {info.file_format}" if info.file_format else ""),
            warn=False,
        )

    def _blend_note(self, text: str, warn: bool) -> None:
        self.blend_note.setText(text)
        self.blend_note.setStyleSheet(WARN_STYLE if warn else NOTE_STYLE)

    # -- sending -----------------------------------------------------------------------

    def submit(self) -> None:
        self._all = True  # every reason shows from now on
        if self.validate() or self.submitting is not None:
            return
        settings, _ = self.job_settings()
        job = {
            "name": self.name.text().strip(),
            "type": self.type_name,
            "settings": settings,
            "priority": self.priority.value(),
            "chunk_size": self.chunk_size.value(),
        }
        self.submit_button.setEnabled(False)
        self._say("Submitting…")
        self.submitting = asyncio.ensure_future(self._submit(job))

    async def _submit(self, job: dict[str, Any]) -> None:
        try:
            if job["type"] == "blender_render" and self.storage_mode == "manager":
                blend, files = await store_pack(
                    self.service, Path(job["settings"]["filepath"]), self._say
                )
                job["settings"]["filepath"] = blend
                job |= {"storage": "manager", "files": files}
                self._say("Submitting…")
            row = await self.service.submit_job(**job)
        except (FarmError, OSError, ValueError) as exc:  # OSError, ValueError: packing
            if not isinstance(exc, FarmError):
                exc = FarmError(f"filepath: cannot pack it: {exc}")
            self.submitting = None
            field, _, reason = exc.message.partition(": ")
            field = field.removeprefix("settings.")
            self._show({field: reason} if reason and field in self.errors else {"": exc.message})
            self._say(exc.message)
            self.submit_button.setEnabled(True)
            return
        self.submitting = None
        self._say("")
        self.submitted.emit(row)
        self.accept()
