"""The farm's SQLite file: one connection, its unit of work, and every table's queries.

`Store` is the one object the farm gets; each table's statements live in a module of
their own (workers.py, jobs.py, tasks.py, …) and this class joins them over one
connection, so a concern's Protocol (farm/) can name exactly the methods it calls.
Only this package writes SQL.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import sqlite_utils

from flamenco_gui.store.blocklist import BlocklistTable
from flamenco_gui.store.eta import EtaQueries
from flamenco_gui.store.frames import FramesTable
from flamenco_gui.store.history import HistoryTable
from flamenco_gui.store.job_deps import JobDepsTable
from flamenco_gui.store.job_files import JobFilesTable
from flamenco_gui.store.jobs import JobsTable
from flamenco_gui.store.scheduler import SchedulerQueries
from flamenco_gui.store.schema import migrate
from flamenco_gui.store.settings import SettingsTable
from flamenco_gui.store.tasks import TasksTable
from flamenco_gui.store.unit_of_work import UnitOfWork, connect
from flamenco_gui.store.workers import WorkersTable


class Store(
    SettingsTable,
    WorkersTable,
    JobsTable,
    JobDepsTable,
    JobFilesTable,
    TasksTable,
    HistoryTable,
    FramesTable,
    EtaQueries,
    BlocklistTable,
    SchedulerQueries,
):
    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.conn = connect(path, synchronous)
        migrate(sqlite_utils.Database(self.conn))
        self.uow = UnitOfWork(self.conn, path)
        self._behind = {}

    def start_checkpointer(self, interval: float = 2.0) -> None:
        self.uow.start_checkpointer(interval)

    def close(self) -> None:
        if self._behind:  # the mirrored columns held back (store/workers.py): best effort
            with contextlib.suppress(Exception), self.uow.change():
                self.write_behind()
        self.uow.close()
