"""The workers table's actions for which machine takes which work and when: edit tags,
edit the sleep schedule, and remote control (stop, restart, shut down, reboot, resume),
each a call to FarmService for the selected workers.

Built beside `FarmActions` (gui/actions.py), whose selection, dialogs and stepwise
apply it reuses; its actions join the workers' context menu. The editors are widgets
of their own (gui/worker_tags_editor.py, gui/worker_schedule_editor.py), so a worker
details panel can embed them too.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from flamenco_gui.gui.worker_schedule_editor import ScheduleDialog
from flamenco_gui.gui.worker_tags_editor import TagsDialog, shown_tags

# (menu text, action, when)
REMOTE = (
    ("Stop after current task", "stop", "after_task"),
    ("Stop now (requeue its task)", "stop", "now"),
    ("Restart agent after current task", "restart", "after_task"),
    ("Restart agent now", "restart", "now"),
    ("Shut down after current task", "shutdown", "after_task"),
    ("Reboot after current task", "reboot", "after_task"),
    ("Shut down now", "shutdown", "now"),
    ("Reboot now", "reboot", "now"),
    ("Resume taking work", "resume", "now"),
)
POWER = ("shutdown", "reboot")


class WorkerExtras(QObject):
    def __init__(self, host: Any) -> None:
        """`host`: the window's FarmActions (selection, apply, dialog, window)."""
        super().__init__(host)
        self._host = host
        self.edit_tags = host._action("Edit tags…", self._edit_tags, "worker", "Set tags")
        self.edit_schedule = host._action(
            "Edit schedule…", self._edit_schedule, "worker", "When the worker renders"
        )
        self.remote_menu = QMenu("Remote control", host.window)
        self.remote: dict[tuple[str, str], QAction] = {}
        for text, action, when in REMOTE:
            if action == "resume":
                self.remote_menu.addSeparator()
            qaction = self.remote_menu.addAction(text)
            qaction.triggered.connect(lambda _=False, a=action, w=when: self.control(a, w))
            self.remote[(action, when)] = qaction
        self.remote_menu.addSeparator()
        self.wake = self.remote_menu.addAction("Wake (Wake-on-LAN)")
        self.wake.triggered.connect(self._wake)
        self.remote_menu.aboutToShow.connect(self._update_power)
        self.remote_action = self.remote_menu.menuAction()

    def actions(self) -> list[QAction | None]:
        return [self.edit_tags, self.edit_schedule, self.remote_action]

    def _rows(self) -> list[dict[str, Any]]:
        model = self._host.views["worker"].live_model
        return [r for i in self._host.selected("worker") if (r := model.get(i)) is not None]

    def _names(self, rows: list[dict[str, Any]]) -> str:
        names = ", ".join(r["hostname"] for r in rows[:3])
        return names + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")

    def _update_power(self) -> None:
        """Shut down and reboot only for workers whose owner allowed it."""
        allowed = any(r.get("allow_power") for r in self._rows())
        for (action, _), qaction in self.remote.items():
            if action in POWER:
                qaction.setEnabled(allowed)
                qaction.setToolTip("" if allowed else "Its owner did not start it --allow-power")
        self.wake.setEnabled(any(r.get("mac_address") for r in self._rows()))

    def _wake(self) -> None:
        ids = self._host.selected("worker")
        self._host._apply("worker", ids, self._host.service.wake_worker)

    def control(self, action: str, when: str) -> None:
        ids = self._host.selected("worker")
        service = self._host.service
        self._host._apply("worker", ids, lambda i: service.control_worker(i, action, when))

    def _edit_tags(self) -> None:
        rows = self._rows()
        if not rows:
            return
        ids = [r["id"] for r in rows]
        dialog = TagsDialog(self._names(rows), shown_tags(rows[0]), self._host.window)

        def chosen() -> None:
            tags = dialog.editor.tags() or []
            service = self._host.service
            self._host._apply("worker", ids, lambda i: service.set_worker_tags(i, tags))

        self._open(dialog, chosen)

    def _edit_schedule(self) -> None:
        rows = self._rows()
        if not rows:
            return
        ids = [r["id"] for r in rows]
        dialog = ScheduleDialog(
            self._names(rows), rows[0].get("schedule"), "UTC", self._host.window
        )

        def chosen() -> None:
            schedule = dialog.editor.schedule()
            service = self._host.service
            self._host._apply("worker", ids, lambda i: service.set_worker_schedule(i, schedule))

        self._open(dialog, chosen)

    def _open(self, dialog: Any, chosen: Any) -> None:
        dialog.accepted.connect(chosen)
        dialog.finished.connect(lambda _: setattr(self._host, "dialog", None))
        self._host.dialog = dialog
        dialog.open()
