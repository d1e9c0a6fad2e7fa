"""Which build each worker says it runs, as it reported it last (`PUT
/workers/{id}/version`). Kept in memory: workers report at every start and after every
update check, so a restarted manager knows them again within minutes; a table column
can come with the window's workers view."""

from __future__ import annotations

import time
from typing import Any


class WorkerVersions:
    def __init__(self) -> None:
        self._reports: dict[int, dict[str, Any]] = {}

    def report(self, worker_id: int, report: dict[str, Any]) -> None:
        self._reports[worker_id] = {**report, "reported_at": time.time()}

    def all(self) -> dict[int, dict[str, Any]]:
        return dict(self._reports)

    def forget(self, worker_id: int) -> None:
        self._reports.pop(worker_id, None)
