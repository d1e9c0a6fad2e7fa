"""Details of the selected job and of the selected worker: tabs beside Log and Preview.

Each panel is a form of sections; a section is a title and a function from the row to
its (label, value) lines, so a feature adds its own lines (a worker's tags, its
schedule, a job's statistics) with `add_section` instead of editing this module. Values
are plain text. A panel reads the farm only for the object shown and only while its
tab is shown: the rows it has come from the tables; the few extra reads (a job's
blocklist, a worker's recent tasks, by index) happen at most once a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFormLayout, QScrollArea, QVBoxLayout, QWidget

from flamenco_gui.farm.errors import FarmError
from flamenco_gui.farm.service import FarmService
from flamenco_gui.gui import columns as fmt
from flamenco_gui.gui.plain import plain_label
from flamenco_gui.gui.table_model import LiveTableModel

Row = dict[str, Any]
Lines = list[tuple[str, str]]
Section = tuple[str, Callable[[Row], Lines]]
RECENT = 5  # tasks listed per kind (recent, failed)


def when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))} ({fmt.seen(ts)})"


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v)}" for k, v in sorted(value.items()))
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value is None or value == "" else str(value)


class DetailsPanel(QWidget):
    """A titled form of sections for one object of `model`, refreshed as it changes."""

    def __init__(self, model: LiveTableModel, empty: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.obj_id: int | None = None
        self.sections: list[Section] = []
        self.shown: Lines = []  # what the form shows: (section, "") then its lines
        self.title = plain_label(empty, bold=True)
        self._empty = empty
        self.body = QWidget()
        self.form = QFormLayout(self.body)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        scroll = QScrollArea()
        scroll.setWidget(self.body)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(scroll, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(1000)  # a busy object is read again at most once a second
        self._timer.timeout.connect(self.refresh)
        model.flushed.connect(self._changed)

    def add_section(self, title: str, lines: Callable[[Row], Lines]) -> None:
        """More lines for every object shown (another feature's, e.g. tags)."""
        self.sections.append((title, lines))
        self.refresh()

    def show_object(self, obj_id: int | None) -> None:
        if obj_id != self.obj_id:
            self.obj_id = obj_id
            self.refresh()

    def _changed(self) -> None:
        if self.obj_id is not None and self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.shown = []
        row = self.model.get(self.obj_id) if self.obj_id is not None else None
        if row is None:
            self.obj_id = None
            self.title.setText(self._empty)
            return
        self.title.setText(self.heading(row))
        if not self.isVisible():
            return  # filled when its tab is shown
        for title, lines in self.sections:
            try:
                got = lines(row)
            except FarmError:  # deleted meanwhile: the next change clears the panel
                continue
            if not got:
                continue
            self.form.addRow(plain_label(title, bold=True))
            self.shown += [(title, ""), *got]
            for label, value in got:
                field = plain_label(value)
                field.setWordWrap(True)
                field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.form.addRow(plain_label(label), field)

    def heading(self, row: Row) -> str:
        return str(row.get("name") or row.get("hostname") or row.get("id"))


def job_details(service: FarmService, jobs: LiveTableModel) -> DetailsPanel:
    panel = DetailsPanel(jobs, "Select a job to see its details.")

    def job(r: Row) -> Lines:
        counts = r.get("task_counts") or {}
        tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if n) or "none"
        return [
            ("ID", str(r["id"])),
            ("Status", r.get("status") or ""),
            ("Type", r.get("type") or ""),
            ("Priority", str(r.get("priority"))),
            ("Submitted", when(r.get("created"))),
            ("This run began", when(r.get("started"))),
            ("Frames", fmt.frames(r) or "—"),
            ("Chunk size", _value(r.get("chunk_size"))),
            ("Tasks", f"{r.get('tasks_total', 0)}: {tally}"),
            ("Waiting for", _value(r.get("waiting_reason"))),
            # The farm keeps no submitter yet (the API's jobs carry none).
            ("Submitted by", _value((r.get("settings") or {}).get("submitter"))),
        ]

    def files(r: Row) -> Lines:
        settings = r.get("settings") or {}
        known = (
            ("filepath", ".blend file"),
            ("render_output", "Output path"),
            ("format", "Format"),
            ("argv", "Command"),
            ("input", "Input"),
            ("output", "Output"),
        )
        return [(label, _value(settings[k])) for k, label in known if k in settings]

    def settings(r: Row) -> Lines:
        shown = {"filepath", "render_output", "format", "argv", "input", "output"}
        rest = r.get("settings") or {}
        return [(k, _value(v)) for k, v in sorted(rest.items()) if k not in shown]

    def blocklist(r: Row) -> Lines:
        return [
            (
                b.get("hostname") or f"worker {b['worker_id']}",
                f"{b['reason']} · {when(b['created'])}",
            )
            for b in service.job_blocklist(r["id"])
        ] or [("", "no worker is kept off this job")]

    for title, lines in (
        ("Job", job),
        ("Files", files),
        ("Settings", settings),
        ("Blocklist", blocklist),
    ):
        panel.sections.append((title, lines))
    return panel


def worker_details(service: FarmService, workers: LiveTableModel) -> DetailsPanel:
    panel = DetailsPanel(workers, "Select a worker to see its details.")

    def worker(r: Row) -> Lines:
        address = r.get("ip_address") or "—"
        if r.get("port"):
            address += f":{r['port']}"
        return [
            ("ID", str(r["id"])),
            ("Enabled", r.get("status") or ""),
            ("Online", r.get("connection") or ""),
            ("Address", address),
            ("OS", _value(r.get("system"))),
            ("Version", _value(r.get("version"))),
            ("Accepts", _value((r.get("accepts") or "").strip(",").replace(",", ", "))),
            ("Activity", _value(r.get("activity"))),
            ("Current task", _value(r.get("current_task"))),
            ("Last seen", when(r.get("last_seen"))),
            ("Registered", when(r.get("created"))),
        ]

    def machine(r: Row) -> Lines:
        report = {**(r.get("update_less_frequent") or {}), **(r.get("update_frequent") or {})}
        return [
            (k.removeprefix("worker_").replace("_", " "), _value(v))
            for k, v in sorted(report.items())
        ]

    def tasks(r: Row, status: str) -> Lines:
        _, total = service.list_tasks(worker_id=r["id"], status=status, limit=1)
        page, _ = service.list_tasks(
            worker_id=r["id"], status=status, limit=RECENT, offset=max(0, total - RECENT)
        )
        return [
            (f"task {t['id']}", f"job {t['job_id']} · frames {fmt.frames(dict(t)) or '—'} · "
             + (t.get("error") or when(t.get("finished"))))
            for t in reversed(page)
        ]  # fmt: skip

    def blocklists(r: Row) -> Lines:
        return [
            (f"job {b['job_id']}", f"{b['reason']} · {when(b['created'])}")
            for b in service.worker_blocklists(r["id"])
        ] or [("", "on no job's blocklist")]

    for title, lines in (
        ("Worker", worker),
        ("Machine", machine),
        ("Recent tasks", lambda r: tasks(r, "completed")),
        ("Failures", lambda r: tasks(r, "failed")),
        ("Blocklists", blocklists),
    ):
        panel.sections.append((title, lines))
    return panel
