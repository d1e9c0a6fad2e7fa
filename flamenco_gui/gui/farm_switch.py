"""Pause farm / Resume farm: every active job at once, from the Farm menu or the tray.

Pausing the farm pauses each queued or rendering job the way the job action does
(running tasks finish, nothing new starts). Resuming the farm resumes the jobs the farm
pause paused, and only those: a job the wrangler paused on its own stays paused. The
ids are remembered by the window (not the farm), so a restart forgets them and the
paused jobs are resumed one by one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from flamenco_gui.farm.service import FarmService
from flamenco_gui.gui.actions import FarmActions
from flamenco_gui.gui.table_model import LiveTableModel

ACTIVE = ("queued", "rendering")


class FarmSwitch(QObject):
    def __init__(self, service: FarmService, jobs: LiveTableModel, actions: FarmActions) -> None:
        super().__init__(actions)
        self.service = service
        self.jobs = jobs
        self.actions = actions
        self.paused: set[int] = set()  # the jobs the farm pause paused
        self.pause = QAction("Pause farm", self)
        self.pause.setStatusTip("Pause every active job: running tasks finish, no new ones start")
        self.pause.triggered.connect(self.pause_farm)
        self.resume = QAction("Resume farm", self)
        self.resume.setStatusTip("Resume the jobs Pause farm paused")
        self.resume.triggered.connect(self.resume_farm)
        self.resume.setEnabled(False)

    def pause_farm(self) -> None:
        known = [r["id"] for r in self.jobs.all_rows()]
        ids = [i for i in known if (self.jobs.get(i) or {}).get("status") in ACTIVE]
        self.paused |= set(ids)
        self.resume.setEnabled(bool(self.paused))
        self.actions.apply("job", ids, lambda i: self.service.job_action(i, "pause"))

    def resume_farm(self) -> None:
        ids = sorted(i for i in self.paused if (self.jobs.get(i) or {}).get("status") == "paused")
        self.paused.clear()
        self.resume.setEnabled(False)
        self.actions.apply("job", ids, lambda i: self.service.job_action(i, "resume"))
