"""The wrangler's actions on jobs, tasks and workers: one QAction each, shared by the
menus, the toolbar and the context menus, and each a call to FarmService, so a click
follows the same rules as a request over the API.

Actions apply to the selection of their table. A big selection (select all, cancel) is
applied 200 objects at a time with the loop running in between, so the window and the
API stay responsive. Failures (a completed task cannot be paused) are collected and
summed up in the status bar rather than interrupting with a dialog per object.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMessageBox, QStyle, QWidget

from flamenco_gui.farm.errors import FarmError
from flamenco_gui.farm.jobs import MOVES
from flamenco_gui.farm.service import FarmService
from flamenco_gui.farm.states import TaskStatus, can_transition
from flamenco_gui.gui.table_model import LiveTableModel
from flamenco_gui.gui.table_view import LiveTableView

STEP = 200  # objects changed per turn of the loop
CHECK = 500  # selected rows looked at to decide whether an action applies
SP = QStyle.StandardPixmap


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _applies(verb: str, job: dict[str, Any]) -> bool:
    """Whether job action `verb` would move any of the job's tasks (farm/jobs.py)."""
    counts = job.get("task_counts") or {}
    return any(counts.get(s.value, 0) for s in MOVES[verb][0])


class FarmActions(QObject):
    updates_requested = Signal()  # "update all" was asked (the window refreshes the offers)

    def __init__(
        self,
        service: FarmService,
        window: Any,  # the MainWindow: status bar, dialogs' parent
        jobs: LiveTableView,
        tasks: LiveTableView,
        workers: LiveTableView,
    ) -> None:
        super().__init__(window)
        self.service = service
        self.window = window
        self.views = {"job": jobs, "task": tasks, "worker": workers}
        self.dialog: QWidget | None = None  # the open confirmation or input (tests use it)
        self.running: set[asyncio.Future[None]] = set()
        icon = window.style().standardIcon
        job = self._job_action
        self.pause_job = job(
            "Pause",
            "pause",
            icon(SP.SP_MediaPause),
            "Pause the selected jobs: running tasks finish, no new ones start",
            "Ctrl+P",
        )
        self.pause_now_job = job(
            "Pause now…",
            "pause_now",
            icon(SP.SP_MediaPause),
            "Pause and stop the running tasks too (they render again from the start)",
            "Ctrl+Shift+P",
        )
        self.resume_job = job(
            "Resume", "resume", icon(SP.SP_MediaPlay), "Resume paused jobs", "Ctrl+R"
        )
        self.cancel_job = job(
            "Cancel", "cancel", icon(SP.SP_MediaStop), "Cancel the selected jobs", "Ctrl+Shift+X"
        )
        self.requeue_job = job(
            "Requeue…",
            "requeue",
            icon(SP.SP_BrowserReload),
            "Render the selected jobs again, completed tasks too",
            "Ctrl+Shift+R",
        )
        self.requeue_failed = job(
            "Requeue failed",
            "requeue_failed",
            icon(SP.SP_DialogRetryButton),
            "Requeue only the failed and canceled tasks of the selected jobs",
            "Ctrl+Alt+R",
        )
        self.job_priority = self._action("Change priority…", self._ask_priority, "job")
        self.job_priority.setShortcut(QKeySequence("Ctrl+I"))
        self.clear_blocklist = self._action(
            "Clear blocklist", self._clear_blocklist, "job", "Let blocklisted workers retry"
        )
        self.delete_job = self._action(
            "Delete job…", self._confirm_delete_jobs, "job", icon=icon(SP.SP_TrashIcon)
        )
        self.cancel_task = self._task_action("Cancel task", TaskStatus.CANCELED)
        self.requeue_task = self._task_action("Requeue task", TaskStatus.QUEUED)
        self.pause_task = self._task_action("Pause task", TaskStatus.PAUSED)
        self.delete_task = self._action("Delete task…", self._confirm_delete_tasks, "task")
        self.enable_worker = self._worker_switch("Enable worker", True)
        self.disable_worker = self._worker_switch("Disable worker", False)
        self.forget_worker = self._action("Forget worker…", self._confirm_forget, "worker")
        # Delete in a table deletes (or forgets) its selection; the menus show the key.
        for action, kind in (
            (self.delete_job, "job"),
            (self.delete_task, "task"),
            (self.forget_worker, "worker"),
        ):
            action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.views[kind].addAction(action)
        self.update_all = self._action(
            "Update all workers",
            self._update_all,
            "worker",
            "Workers on an older executable than the manager offers update after their task",
        )
        self.requested_updates: list[int] | None = None  # the last answer (tests read it)
        for name in ("pause", "resume", "cancel", "requeue"):
            getattr(self, f"{name}_job").setIconText(f"{name.capitalize()} job")
        for entry in self.for_kind("job"):
            if entry is not None and not entry.shortcut().isEmpty():
                keys = entry.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                entry.setToolTip(f"{entry.toolTip()} ({keys})")
        # Selected ids are read when the selection changes, not on every batch of updates
        # (listing 100,000 selected rows ten times a second would stall the window).
        self._selection: dict[str, list[int]] = {}
        for kind, view in self.views.items():
            view.selectionModel().selectionChanged.connect(lambda *_, k=kind: self._selected(k))
            view.live_model.modelReset.connect(lambda k=kind: self._selected(k))
            view.live_model.flushed.connect(lambda k=kind: self.update(k))
            self._selected(kind)

    # -- building ----------------------------------------------------------------------

    def _action(
        self,
        text: str,
        slot: Callable[[], None],
        kind: str,
        tip: str | None = None,
        icon: QIcon | None = None,
    ) -> QAction:
        action = QAction(icon, text, self) if icon else QAction(text, self)
        action.setStatusTip(tip or text)
        action.setToolTip(tip or text)
        action.setProperty("kind", kind)
        action.triggered.connect(lambda: slot())
        return action

    def _job_action(self, text: str, verb: str, icon: QIcon, tip: str, keys: str) -> QAction:
        def run() -> None:
            ids = self._applicable("job", verb)
            if ids:
                self._confirm_job_action(verb, ids)

        action = self._action(text, run, "job", tip, icon)
        action.setShortcut(QKeySequence(keys))
        action.setProperty("verb", verb)
        return action

    def _task_action(self, text: str, status: TaskStatus) -> QAction:
        def run() -> None:
            ids = self.selected("task")
            model = self.views["task"].live_model
            done = [i for i in ids if (model.get(i) or {}).get("status") == "completed"]
            if status == TaskStatus.QUEUED and done:
                self.confirm(
                    "Requeue tasks",
                    f"{_plural(len(done), 'completed task')} will render again; their frames "
                    "are overwritten.",
                    lambda: self._apply(
                        "task", ids, lambda i: self.service.set_task_status(i, status)
                    ),
                )
                return
            self._apply("task", ids, lambda i: self.service.set_task_status(i, status))

        action = self._action(text, run, "task", f"{text} (the selected ones)")
        action.setProperty("target", status.value)
        return action

    def _worker_switch(self, text: str, enabled: bool) -> QAction:
        def run() -> None:
            ids = self.selected("worker")
            self._apply("worker", ids, lambda i: self.service.set_worker_enabled(i, enabled))

        tip = "Give it new tasks again" if enabled else "It finishes its task, then gets no more"
        return self._action(text, run, "worker", tip)

    def for_kind(self, kind: str) -> list[QAction | None]:
        """The context menu of a table (None: a separator)."""
        if kind == "job":
            return [
                self.pause_job,
                self.pause_now_job,
                self.resume_job,
                self.cancel_job,
                None,
                self.requeue_job,
                self.requeue_failed,
                None,
                self.job_priority,
                self.clear_blocklist,
                None,
                self.delete_job,
            ]
        if kind == "task":
            return [self.cancel_task, self.pause_task, self.requeue_task, None, self.delete_task]
        return [
            self.enable_worker,
            self.disable_worker,
            None,
            self.forget_worker,
            None,
            self.update_all,
        ]

    # -- state -------------------------------------------------------------------------

    def selected(self, kind: str) -> list[int]:
        return self.views[kind].selected_ids()

    def _selected(self, kind: str) -> None:
        self._selection[kind] = self.selected(kind)
        self.update(kind)

    def update(self, kind: str) -> None:
        """Enable what applies to the selection (task moves by the farm's own rules)."""
        model: LiveTableModel = self.views[kind].live_model
        selected = self._selection.get(kind, [])[:CHECK]
        rows = [r for i in selected if (r := model.get(i)) is not None]
        for action in self.for_kind(kind):
            if action is None:
                continue
            target, verb = action.property("target"), action.property("verb")
            if verb:
                ok = any(_applies(verb, r) for r in rows)
            elif target:
                ok = any(can_transition(TaskStatus(r["status"]), TaskStatus(target)) for r in rows)
            elif action is self.enable_worker:
                ok = any(r["status"] == "disabled" for r in rows)
            elif action is self.disable_worker:
                ok = any(r["status"] == "enabled" for r in rows)
            elif action is self.update_all:
                ok = True  # the whole farm, whatever is selected
            else:
                ok = bool(rows)
            action.setEnabled(ok)

    # -- applying ----------------------------------------------------------------------

    def apply(self, kind: str, ids: Sequence[int], change: Callable[[int], Any]) -> None:
        """`change` each of `ids` in steps, summed up in the status bar (Pause farm…)."""
        self._apply(kind, ids, change)

    def _apply(self, kind: str, ids: Sequence[int], change: Callable[[int], Any]) -> None:
        if not ids:
            return
        future = asyncio.ensure_future(self._apply_in_steps(kind, list(ids), change))
        self.running.add(future)
        future.add_done_callback(self.running.discard)

    async def _apply_in_steps(
        self, kind: str, ids: list[int], change: Callable[[int], Any]
    ) -> None:
        errors: list[str] = []
        for n, obj_id in enumerate(ids, 1):
            try:
                result = change(obj_id)
                if inspect.isawaitable(result):
                    await result  # a job action works in slices, the loop running between
            except FarmError as exc:
                errors.append(exc.message)
            if n % STEP == 0:
                self.window.statusBar().showMessage(f"{n:,} of {len(ids):,} {kind}s…")
                await asyncio.sleep(0)
        done = len(ids) - len(errors)
        text = f"Done for {done} of {_plural(len(ids), kind)}"
        if errors:
            text += f"; {errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        self.window.statusBar().showMessage(text, 10_000)
        self.update(kind)

    def _update_all(self) -> None:
        future = asyncio.ensure_future(self._request_updates())
        self.running.add(future)
        future.add_done_callback(self.running.discard)

    async def _request_updates(self) -> None:
        """The farm asks each worker on an older one-file executable to check at its
        next pull (between tasks); workers from a checkout are not asked."""
        try:
            ids = await self.service.request_worker_updates()
        except FarmError as exc:
            self.window.statusBar().showMessage(f"Update all: {exc.message}", 10_000)
            return
        self.requested_updates = ids
        names = self.views["worker"].live_model
        listed = ", ".join((names.get(i) or {}).get("hostname", f"#{i}") for i in ids[:3])
        more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
        text = (
            f"Asked {_plural(len(ids), 'worker')} ({listed}{more}) to update after its task"
            if ids
            else "No worker runs an older executable than the manager offers"
        )
        self.window.statusBar().showMessage(text, 15_000)
        self.updates_requested.emit()

    # -- the ones that ask first -------------------------------------------------------

    def confirm(self, title: str, text: str, on_yes: Callable[[], None]) -> QMessageBox:
        """Ask without blocking the loop (the farm keeps running while the box is open)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self.window)
        box.setTextFormat(Qt.TextFormat.PlainText)  # job and worker names are user text
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def done(code: int) -> None:
            self.dialog = None
            if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes:
                on_yes()

        box.finished.connect(done)
        self.dialog = box
        box.open()
        return box

    def _applicable(self, kind: str, verb: str) -> list[int]:
        """The selected jobs `verb` would change (a completed job is not paused)."""
        model = self.views[kind].live_model
        return [i for i in self.selected(kind) if _applies(verb, model.get(i) or {})]

    def _confirm_job_action(self, verb: str, ids: list[int]) -> None:
        """Run `verb` on `ids`, asking first when it throws work away: requeue renders
        completed tasks again; cancel and pause now stop running renders."""
        model = self.views["job"].live_model
        counts = [(model.get(i) or {}).get("task_counts") or {} for i in ids]
        completed = sum(c.get("completed", 0) for c in counts)
        rendering = sum(c.get("rendering", 0) for c in counts)
        names = ", ".join((model.get(i) or {}).get("name", f"#{i}") for i in ids[:3])
        names += f" and {len(ids) - 3} more" if len(ids) > 3 else ""

        def run() -> None:
            self._apply("job", ids, lambda i: self.service.job_action(i, verb))

        if verb == "requeue" and completed:
            text = (
                f"Requeue {names}? {_plural(completed, 'completed task')} will render again "
                "and their frames are overwritten."
            )
        elif verb in ("cancel", "pause_now") and rendering:
            then = "are lost" if verb == "cancel" else "start again from the start on resume"
            text = (
                f"{verb.replace('_', ' ').capitalize()} {names}? "
                f"{_plural(rendering, 'running render')} stop at once and their partial "
                f"frames {then}."
            )
        else:
            run()
            return
        self.confirm(verb.replace("_", " ").capitalize(), text, run)

    def _confirm_delete_jobs(self) -> None:
        ids = self.selected("job")
        if not ids:
            return
        model = self.views["job"].live_model
        tasks = sum((model.get(i) or {}).get("tasks_total", 0) for i in ids)
        names = ", ".join((model.get(i) or {}).get("name", f"#{i}") for i in ids[:3])
        more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
        self.confirm(
            "Delete jobs",
            f"Delete {_plural(len(ids), 'job')} ({names}{more}) with {_plural(tasks, 'task')} "
            "and their logs? Running tasks are stopped. This cannot be undone.",
            lambda: self._apply("job", ids, self.service.delete_job),
        )

    def _confirm_delete_tasks(self) -> None:
        ids = self.selected("task")
        if ids:
            self.confirm(
                "Delete tasks",
                f"Delete {_plural(len(ids), 'task')} and their logs? A running one is stopped. "
                "This cannot be undone.",
                lambda: self._apply("task", ids, self.service.delete_task),
            )

    def _confirm_forget(self) -> None:
        ids = self.selected("worker")
        if not ids:
            return
        model = self.views["worker"].live_model
        names = ", ".join((model.get(i) or {}).get("hostname", f"#{i}") for i in ids)
        self.confirm(
            "Forget workers",
            f"Forget {names}? Its task goes back to the queue. A worker that is still running "
            "registers again on its next call; stop it on its machine to keep it away.",
            lambda: self._apply("worker", ids, self.service.forget_worker),
        )

    def _clear_blocklist(self) -> None:
        self._apply("job", self.selected("job"), self.service.clear_blocklist)

    def _ask_priority(self) -> None:
        ids = self.selected("job")
        if not ids:
            return
        current = (self.views["job"].live_model.get(ids[0]) or {}).get("priority", 50)
        dialog = QInputDialog(self.window)
        dialog.setWindowTitle("Change priority")
        dialog.setLabelText(f"Priority of {_plural(len(ids), 'job')} (higher renders first):")
        dialog.setInputMode(QInputDialog.InputMode.IntInput)
        dialog.setIntRange(-1_000_000, 1_000_000)
        dialog.setIntValue(int(current))

        def chosen(value: int) -> None:
            self._apply("job", ids, lambda i: self.service.set_job_priority(i, value))

        dialog.intValueSelected.connect(chosen)
        dialog.finished.connect(lambda _: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
