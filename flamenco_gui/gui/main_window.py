"""The wrangler's window: jobs, workers, tasks, a task's log, a job's latest frames, and
every action.

It is an adapter over FarmService like the HTTP API: the tables follow the service's
events, the actions call its methods. It holds no farm state of its own beyond what
the tables show, and reads nothing big at once: the tables are filled a page at a time
(`load`) with the loop running in between, so the HTTP API keeps answering.
"""

from __future__ import annotations

import asyncio
import html
import platform
import zlib
from pathlib import Path
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QEvent, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui import __version__
from flamenco_gui.addon import ADDON, write_addon_zip
from flamenco_gui.farm.events import Change
from flamenco_gui.farm.pairing import DEFAULT_TTL
from flamenco_gui.gui.actions import FarmActions
from flamenco_gui.gui.add_worker_dialog import AddWorkerDialog
from flamenco_gui.gui.columns import frames
from flamenco_gui.gui.details import job_details, worker_details
from flamenco_gui.gui.farm_switch import FarmSwitch
from flamenco_gui.gui.file_store_label import FileStoreLabel
from flamenco_gui.gui.first_run import FirstRunGuide
from flamenco_gui.gui.frame_check_dialog import FrameCheckDialog
from flamenco_gui.gui.handle import ManagerHandle
from flamenco_gui.gui.jobs_view import jobs_model, jobs_panel
from flamenco_gui.gui.local_worker import LocalWorker, local_url
from flamenco_gui.gui.log_panel import LogPanel
from flamenco_gui.gui.plain import plain_label
from flamenco_gui.gui.preview_panel import PreviewPanel
from flamenco_gui.gui.quit_guard import QuitGuard
from flamenco_gui.gui.settings_dialog import SettingsDialog, mask
from flamenco_gui.gui.status_bar import ElidingStatusBar
from flamenco_gui.gui.submit_dialog import SubmitDialog
from flamenco_gui.gui.table_panel import TablePanel
from flamenco_gui.gui.tasks_view import tasks_model, tasks_panel
from flamenco_gui.gui.theme import status_colors
from flamenco_gui.gui.tray import JobNotifier, app_icon
from flamenco_gui.gui.worker_versions import BuildOffers
from flamenco_gui.gui.workers_view import workers_model, workers_panel

TASK_PAGE = 500  # rows read (and shown) per turn of the loop at start-up: ~15 ms
JOB_PAGE = 500
LOCAL_KEY = "local_worker/enabled"
ADDON_DIR_KEY = "addon/last_dir"


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(self, manager: ManagerHandle, settings: QSettings | None = None) -> None:
        super().__init__()
        self.manager = manager
        self.service = manager.service
        self.qsettings = settings if settings is not None else QSettings()
        self.dialog: QWidget | None = None  # the dialog opened last (tests drive it)
        self.context_menu: QMenu | None = None
        self._shut = False
        self._closed = False  # a window closed while loading stops reading
        self._stopping: asyncio.Future[int | None] | None = None
        self._exporting: asyncio.Future[Path | None] | None = None
        self.setWindowTitle(f"Flamenco Manager {__version__}")
        self.setStatusBar(ElidingStatusBar(self))
        self.setWindowIcon(app_icon())

        self.job_model = jobs_model()
        self.build_offers = BuildOffers(self.service, self)
        self.worker_model = workers_model(self.build_offers)
        self.task_model = tasks_model(self._job_name, self._worker_name)
        for model in (self.job_model, self.worker_model, self.task_model):
            model.setParent(self)  # gone with the window, batch timers and all
        self._apply_palette()
        self.jobs = jobs_panel(self.job_model)
        self.workers = workers_panel(self.worker_model)
        self.tasks = tasks_panel(self.task_model)
        self.log = LogPanel(self.service)
        self.preview = PreviewPanel(self.service)
        self.farm_actions = FarmActions(
            self.service, self, self.jobs.view, self.tasks.view, self.workers.view
        )
        self.farm_actions.updates_requested.connect(self.build_offers.refresh_soon)
        self.local = LocalWorker(manager.data_dir, self)
        self.farm_switch = FarmSwitch(self.service, self.job_model, self.farm_actions)
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.triggered.connect(self.request_quit)
        self.notifier = JobNotifier(
            self,
            lambda text: self.statusBar().showMessage(text, 15_000),
            [None, self.farm_switch.pause, self.farm_switch.resume, None, self.quit_action],
        )
        self._quit_ok = False  # the question was answered "quit" (or none was needed)
        self.quit_guard = QuitGuard(
            self, self._work_under_way, lambda: self.notifier.available, self.quit_now, self.to_tray
        )

        # Jobs on top and workers at the bottom, each the window's full width (both have
        # many columns); a task table and, beside it, the task's log or the job's latest
        # frames (tabs: each needs the height, and a third column would starve the tasks).
        self.side = QTabWidget()
        self.side.setDocumentMode(True)
        self.side.addTab(self.log, "Log")
        self.side.addTab(self.preview, "Preview")
        # Details of the selected job and worker; other features add sections to them.
        self.job_details = job_details(self.service, self.job_model)
        self.worker_details = worker_details(self.service, self.worker_model)
        self.side.addTab(self.job_details, "Job")
        self.side.addTab(self.worker_details, "Worker")
        self.middle = QSplitter(Qt.Orientation.Horizontal)
        self.middle.addWidget(self.tasks)
        self.middle.addWidget(self.side)
        self.middle.setSizes([860, 580])
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.jobs)
        self.split.addWidget(self.middle)
        self.split.addWidget(self.workers)
        # Jobs get the room (new ones land on top); workers need a few rows.
        self.split.setSizes([300, 380, 170])
        self.banner = plain_label()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "background: #d64541; color: white; padding: 6px; font-weight: bold;"
        )
        self.banner.hide()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.split)
        self.setCentralWidget(central)

        self._build_actions()
        self.guide = FirstRunGuide(
            self.worker_model,
            self.job_model,
            manager.pairing,
            lambda: self.manager.url,
            (self.add_worker_action, self.local_action, self.submit_action),
        )
        # Under the banner, above the tables; scrolled rather than making a small
        # window bigger.
        self.guide_area = QScrollArea()
        self.guide_area.setWidget(self.guide)
        self.guide_area.setWidgetResizable(True)
        self.guide_area.setFrameShape(QFrame.Shape.NoFrame)
        self.guide_area.setMinimumHeight(48)
        # Its whole height when there is room, never more: the tables take the rest
        # (the splitter's own wish for height is ignored, its minimum is not).
        self.guide_area.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.split.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.split.setMinimumHeight(self.split.minimumSizeHint().height())
        self.guide.visibility.connect(self.guide_area.setVisible)
        self.guide_area.setVisible(self.guide.wanted)
        layout.insertWidget(1, self.guide_area)
        self._build_status_bar()
        self._wire()
        self._show_storage_error(self.service.storage_error)
        self._restore()

    # -- building ----------------------------------------------------------------------

    def _build_actions(self) -> None:
        a = self.farm_actions
        self.submit_action = QAction("Submit job…", self)
        self.submit_action.setShortcut(QKeySequence.StandardKey.New)
        self.submit_action.setToolTip("Submit a Blender render or a command (Ctrl+N)")
        self.submit_action.triggered.connect(self.open_submit)
        self.local_action = QAction("Render on this computer too", self)
        self.local_action.setCheckable(True)
        self.local_action.setToolTip("Run a worker on this computer as well")
        self.local_action.toggled.connect(self._toggle_local)
        self.add_worker_action = QAction("Add a worker…", self)
        self.add_worker_action.setToolTip("The command that joins a machine to this farm")
        self.add_worker_action.triggered.connect(self.open_add_worker)
        self.settings_action = QAction("Settings…", self)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.settings_action.triggered.connect(self.open_settings)
        self.addon_action = QAction("Install Blender add-on…", self)
        self.addon_action.setToolTip("Save the add-on that submits scenes from Blender")
        self.addon_action.triggered.connect(self.open_addon_export)
        self.about_action = QAction("About Flamenco Manager", self)
        self.statistics_action = QAction("Statistics…", self)
        self.statistics_action.setToolTip("Frame times, memory, workers and the farm's history")
        self.statistics_action.triggered.connect(self.open_statistics)
        self.check_frames_action = QAction("Check frames…", self)
        self.check_frames_action.setToolTip("Find missing or broken frames; re-render them")
        self.check_frames_action.triggered.connect(self.open_check_frames)
        self.about_action.triggered.connect(self.open_about)

        bar = self.menuBar()
        farm = bar.addMenu("&Farm")
        for action in (self.submit_action, self.add_worker_action, self.local_action):
            farm.addAction(action)
        farm.addAction(self.statistics_action)
        farm.addSeparator()
        farm.addAction(self.farm_switch.pause)
        farm.addAction(self.farm_switch.resume)
        farm.addSeparator()
        farm.addAction(self.settings_action)
        farm.addSeparator()
        farm.addAction(self.quit_action)
        for title, kind in (("&Job", "job"), ("&Task", "task"), ("&Worker", "worker")):
            menu = bar.addMenu(title)
            for entry in a.for_kind(kind):
                menu.addSeparator() if entry is None else menu.addAction(entry)
            if kind == "job":
                menu.addSeparator()
                menu.addAction(self.check_frames_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.addon_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

        tools = QToolBar("Actions")
        tools.setObjectName("actions")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.addAction(self.submit_action)
        tools.addSeparator()
        for action in (a.pause_job, a.resume_job, a.cancel_job, a.requeue_job, a.requeue_failed):
            tools.addAction(action)
        tools.addSeparator()
        tools.addAction(self.local_action)
        tools.addAction(self.add_worker_action)
        tools.addAction(self.settings_action)
        self.addToolBar(tools)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.url_label = QLabel(f"Workers connect to <b>{html.escape(self.manager.url)}</b>")
        self.url_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addPermanentWidget(self.url_label)
        bar.addPermanentWidget(self._copy_button("Copy URL", lambda: self.manager.url))
        self.token_label = QLabel()
        self.token_label.setToolTip("The farm token: workers and scripts need it.")
        bar.addPermanentWidget(self.token_label)
        bar.addPermanentWidget(self._copy_button("Copy token", lambda: self.manager.token.value))
        self.show_token(self.manager.token.value)
        # The status page and dashboards read with the viewer token, never the farm's.
        self.farm_label = QLabel(f"  Farm <b>{html.escape(self.manager.farm_id)}</b>")
        self.farm_label.setToolTip(
            "This farm's id: workers pin it and refuse a manager of another farm."
        )
        bar.addPermanentWidget(self.farm_label)
        self.files_label = FileStoreLabel(self.service)
        bar.addPermanentWidget(self.files_label)
        bar.addPermanentWidget(
            self._copy_button(
                "Copy status page link",
                lambda: f"{self.manager.url}/#token={self.manager.viewer_token.value}",
            )
        )

    def _copy_button(self, text: str, value: Any) -> QPushButton:
        button = QPushButton(text)
        button.setFlat(True)
        button.clicked.connect(lambda: QGuiApplication.clipboard().setText(value()))
        return button

    def _wire(self) -> None:
        events = self.service.events
        self._unsubscribe = [
            # All take partial changes: the window re-reads no row a worker's report
            # changed (farm/events.py).
            events.subscribe(self.worker_model.on_change, partial=True),
            events.subscribe(self.job_model.on_change, partial=True),
            events.subscribe(self.task_model.on_change, partial=True),
            events.subscribe(self.notifier.on_change, partial=True),
            events.subscribe(self._on_farm_change, partial=True),
        ]
        for kind, panel in (("job", self.jobs), ("task", self.tasks), ("worker", self.workers)):
            panel.view.customContextMenuRequested.connect(
                lambda pos, k=kind, v=panel.view: self._context_menu(k, v, pos)
            )
        self._scope: frozenset[int] = frozenset()
        self.jobs.view.selectionModel().selectionChanged.connect(self._scope_tasks)
        self.jobs.view.selectionModel().currentChanged.connect(self._follow_job)
        self.tasks.view.selectionModel().currentChanged.connect(self._follow_task)
        self.workers.view.selectionModel().currentChanged.connect(
            lambda *_: self.worker_details.show_object(self.workers.view.current_id())
        )
        self.preview.count_changed.connect(self._preview_count)
        self.local.running_changed.connect(self._local_running)
        self.local.message.connect(lambda text: self.statusBar().showMessage(text, 10_000))

    def _context_menu(self, kind: str, view: Any, pos: Any) -> None:
        menu = QMenu(self)
        for action in self.farm_actions.for_kind(kind):
            menu.addSeparator() if action is None else menu.addAction(action)
        self.context_menu = menu
        menu.popup(view.viewport().mapToGlobal(pos))

    # -- loading -----------------------------------------------------------------------

    async def load(self) -> None:
        """Fill the tables a page at a time; events arriving meanwhile interleave in
        order (the later of a page row and an event wins, see LiveTableModel.feed)."""
        await self.build_offers.refresh()  # before the rows: their Version reads it
        self.build_offers.start()
        self.worker_model.feed(self.service.list_workers())
        self.worker_model.flush()
        await asyncio.sleep(0)
        offset = 0
        while True:
            jobs, _ = self.service.list_jobs(limit=JOB_PAGE, offset=offset)
            for job in jobs:
                self.notifier.know(job["id"], job["status"])
            self.job_model.feed(jobs)
            if len(jobs) < JOB_PAGE or self._closed:
                break
            offset += JOB_PAGE
            await asyncio.sleep(0)
        self.job_model.flush()
        await asyncio.sleep(0)
        offset = 0
        while True:
            tasks, total = self.service.list_tasks(limit=TASK_PAGE, offset=offset)
            self.task_model.feed(tasks)
            self.task_model.flush()  # a page at a time, not a timer's worth of pages
            offset += len(tasks)
            if len(tasks) < TASK_PAGE or self._closed:
                break
            self.tasks.set_title(f"Tasks (loading {offset:,} of {total:,})")
            await asyncio.sleep(0)
        self.task_model.flush()
        self.tasks.set_title("Tasks")
        if self.qsettings.value(LOCAL_KEY, False, type=bool) and not self._closed:
            self.local_action.setChecked(True)

    # -- names for the task table ------------------------------------------------------

    def _worker_name(self, worker_id: int | None) -> str:
        if worker_id is None:
            return ""
        row = self.worker_model.get(worker_id)
        return row["hostname"] if row is not None else f"#{worker_id}"

    def _job_name(self, job_id: int | None) -> str:
        if job_id is None:
            return "—"
        row = self.job_model.get(job_id)
        return row["name"] if row is not None else f"job {job_id}"

    # -- following selections ----------------------------------------------------------

    def _scope_tasks(self, *_: Any) -> None:
        """The tasks table shows the selected jobs' tasks (all tasks when none is)."""
        ids = frozenset(self.jobs.view.selected_ids())
        if ids == self._scope:
            return
        self._scope = ids
        self.tasks.scope = (lambda r: r.get("job_id") in ids) if ids else None
        if not ids:
            self.tasks.set_title("Tasks")
        elif len(ids) == 1:
            (job_id,) = ids
            self.tasks.set_title(f"Tasks of {self._job_name(job_id)}")
        else:
            self.tasks.set_title(f"Tasks of {len(ids)} jobs")
        self.tasks.apply_filter()
        self._follow_task()  # the log follows: a task of another job is not shown

    def _follow_task(self, *_: Any) -> None:
        task_id = self.tasks.view.current_id()
        row = self.task_model.get(task_id) if task_id is not None else None
        title = ""
        if row is not None:
            title = f"task {task_id} · {self._job_name(row.get('job_id'))} · frames {frames(row)}"
        self.log.show_task(task_id, title)
        self._follow_job()

    def _preview_job(self) -> int | None:
        """The job the preview shows: the job table's current row if it is selected,
        else the first selected job, else (no job selected) the current task's job, so
        browsing all tasks still shows what each one's job renders."""
        if self._scope:
            current = self.jobs.view.current_id()
            return current if current in self._scope else min(self._scope)
        task_id = self.tasks.view.current_id()
        row = self.task_model.get(task_id) if task_id is not None else None
        return row.get("job_id") if row is not None else None

    def _follow_job(self, *_: Any) -> None:
        job_id = self._preview_job()
        self.preview.show_job(job_id, self._job_name(job_id) if job_id is not None else "")
        self.job_details.show_object(job_id)

    def _preview_count(self, count: int) -> None:
        self.side.setTabText(self.side.indexOf(self.preview), f"Preview ({count})")

    # -- farm-level events -------------------------------------------------------------

    def _on_farm_change(self, change: Change) -> None:
        if change.kind == "farm" and change.row is not None and "storage_error" in change.row:
            self._show_storage_error(change.row.get("storage_error"))
        elif change.kind == "preview":
            self.preview.on_preview(change.id)
        elif change.kind == "job" and change.row is None:
            if change.id == self.preview.job_id:
                self.preview.show_job(None)  # deleted: its previews went with it
            shown = self.log.task_id
            task = self.task_model.get(shown) if shown is not None else None
            if shown is not None and (task is None or task.get("job_id") == change.id):
                self.log.show_task(None)  # its log went with it
        elif change.kind == "task" and change.row is None and change.id == self.log.task_id:
            self.log.show_task(None)

    def _show_storage_error(self, error: str | None) -> None:
        """A farm that cannot save is the one thing a wrangler must not miss."""
        self.banner.setText(f"Changes cannot be saved: {error}. Free space or fix the data dir.")
        self.banner.setVisible(bool(error))

    def show_token(self, token: str) -> None:
        self.token_label.setText(f"  Token <b>{mask(token)}</b>")

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        colors = status_colors(self.palette())
        for model in (self.job_model, self.task_model, self.worker_model):
            model.colors = colors
            if model.rowCount():
                model.dataChanged.emit(
                    model.index(0, 0), model.index(model.rowCount() - 1, model.columnCount() - 1)
                )

    # -- dialogs -----------------------------------------------------------------------

    def open_submit(self) -> SubmitDialog:
        dialog = SubmitDialog(self.service, self.qsettings, self)
        dialog.submitted.connect(
            lambda job: self.statusBar().showMessage(
                f"Submitted {job['name']} (job {job['id']}): {job['tasks_total']} tasks", 10_000
            )
        )
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_add_worker(self) -> AddWorkerDialog:
        pairing = self.manager.pairing.issue(DEFAULT_TTL)
        dialog = AddWorkerDialog(
            self.manager.url,
            self.manager.token.value,
            self,
            code=pairing.code,
            farm_id=self.manager.farm_id,
            expires_at=pairing.expires_at,
        )
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_check_frames(self) -> FrameCheckDialog | None:
        """Check the frames of the job under the cursor (or the first selected)."""
        selected = self.farm_actions.selected("job")
        if not selected:
            self.statusBar().showMessage("Select a job to check its frames", 10_000)
            return None
        dialog = FrameCheckDialog(self.service, selected[0], self)
        dialog.rerendered.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_statistics(self) -> QWidget:
        """The statistics window, on the job selected in the jobs table if one is.
        Imported here: pyqtgraph (and numpy) load only when the window is first asked
        for, not with every window."""
        from flamenco_gui.gui.statistics_view import StatisticsWindow

        selected = self.farm_actions.selected("job")
        window = StatisticsWindow(self.service, self)
        window.fill_jobs(selected[0] if selected else None)
        self.dialog = window
        window.show()
        window.refresh()
        return window

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.manager, self.qsettings, self)
        dialog.token_rotated.connect(self.show_token)
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_addon_export(self) -> QFileDialog:
        """Ask where to save the add-on (a non-blocking dialog; the farm keeps running)."""
        start = Path(str(self.qsettings.value(ADDON_DIR_KEY, "") or Path.home()))
        dialog = QFileDialog(self, "Save the Blender add-on", str(start / f"{ADDON}.zip"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["Zip archives (*.zip)"])
        dialog.setDefaultSuffix("zip")
        dialog.fileSelected.connect(self._export_chosen)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _export_chosen(self, path: str) -> None:
        # Kept: the loop holds its tasks weakly, and a write must not vanish midway.
        self._exporting = asyncio.ensure_future(self.export_addon(path))

    async def export_addon(self, path: str | Path) -> Path | None:
        """Write the add-on's zip to `path` and say where in the status bar (None: it
        could not be written, and the status bar says why). Written on a thread: the
        place chosen may be a slow network share."""
        dest = Path(path)
        try:
            await asyncio.to_thread(write_addon_zip, dest)
        except OSError as exc:
            self.statusBar().showMessage(
                f"Could not write the Blender add-on to {dest}: {exc.strerror or exc}", 30_000
            )
            return None
        self.qsettings.setValue(ADDON_DIR_KEY, str(dest.parent))
        self.statusBar().showMessage(
            f"Wrote the Blender add-on to {dest}. In Blender: Edit > Preferences > Add-ons > "
            f"Install…, then enter {self.manager.url} and the farm token.",
            60_000,
        )
        return dest

    def open_about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setWindowTitle("About Flamenco Manager")
        box.setIconPixmap(app_icon().pixmap(64, 64))
        box.setText(f"<b>Flamenco Manager {__version__}</b>")
        box.setInformativeText(
            "A render farm manager for Blender: this window, and the HTTP API workers and "
            f"the Blender add-on talk to at {self.manager.url}.<br><br>"
            f"Python {platform.python_version()} · PySide6 {pyside_version}"
        )
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        self.dialog = box
        box.open()
        return box

    # -- the local worker --------------------------------------------------------------

    def _toggle_local(self, on: bool) -> None:
        self.qsettings.setValue(LOCAL_KEY, on)
        if on:
            url = local_url(self.manager.host, self.manager.port)
            self.local.start(url, self.manager.token.value)
        else:
            self._stopping = asyncio.ensure_future(self.local.stop())

    def _local_running(self, running: bool) -> None:
        if not running and self.local_action.isChecked():
            self.local_action.blockSignals(True)  # it exited by itself: show it
            self.local_action.setChecked(False)
            self.local_action.blockSignals(False)

    # -- closing -----------------------------------------------------------------------

    def _restore(self) -> None:
        s = self.qsettings
        geometry = s.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1440, 900)
        if (state := s.value("window/state")) is not None:
            self.restoreState(state)
        for name, splitter in (("main", self.split), ("middle", self.middle)):
            if (sizes := s.value(f"splitters/{name}")) is not None:
                splitter.restoreState(sizes)
        for name, panel in self._panels().items():
            if (header := s.value(self._header_key(name, panel))) is not None:
                hh = panel.view.horizontalHeader()
                if hh.restoreState(header):
                    panel.view.sortByColumn(hh.sortIndicatorSection(), hh.sortIndicatorOrder())

    @staticmethod
    def _header_key(name: str, panel: TablePanel) -> str:
        """Column widths saved for one set of columns never land on another (a newer
        version with a column more starts from the defaults)."""
        titles = "|".join(c.title for c in panel.model.columns)
        return f"headers/{name}-{zlib.crc32(titles.encode()):08x}"

    def _panels(self) -> dict[str, TablePanel]:
        return {"jobs": self.jobs, "tasks": self.tasks, "workers": self.workers}

    def save_state(self) -> None:
        s = self.qsettings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        for name, splitter in (("main", self.split), ("middle", self.middle)):
            s.setValue(f"splitters/{name}", splitter.saveState())
        for name, panel in self._panels().items():
            s.setValue(self._header_key(name, panel), panel.view.horizontalHeader().saveState())
        s.sync()

    def _work_under_way(self) -> tuple[int, int]:
        """(rendering, queued) tasks, from the job rows in hand (a few per job)."""
        rendering = queued = 0
        for row in list(self.job_model.all_rows()):
            job = self.job_model.get(row["id"]) or row  # with changes not yet applied
            counts = job.get("task_counts") or {}
            rendering += counts.get("rendering", 0)
            queued += counts.get("queued", 0)
        return rendering, queued

    def request_quit(self) -> None:
        """Ctrl+Q, Quit in the Farm menu or the tray: as closing the window."""
        if self.isHidden():
            self.notifier.show_window()  # the question needs its window
        self.close()

    def quit_now(self) -> None:
        """Close without asking (the wrangler said quit; SIGTERM; a test's teardown)."""
        self._quit_ok = True
        self.close()

    def to_tray(self) -> None:
        self.hide()
        self.notifier.notify(
            "Still running",
            f"Flamenco Manager keeps serving workers at {self.manager.url}; "
            "the tray icon shows the window again.",
            False,
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:  # closed already (a SIGTERM after the window's own close)
            event.accept()
            return
        if not self._quit_ok and self.quit_guard.ask():
            event.ignore()
            return
        self._closed = True
        self.preview.stop()
        self.build_offers.stop()
        self.save_state()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        super().closeEvent(event)
        self.closed.emit()

    async def shutdown(self) -> None:
        """After close: stop the local worker while the manager can still answer its
        goodbye (the caller stops the manager afterwards)."""
        if self._shut:
            return
        self._shut = True
        await self.local.stop()
