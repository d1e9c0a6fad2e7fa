"""A worker's reported build lives on its row (schema v9): written by the farm with the
worker's change event, kept across a restart, read back with the newer build on offer;
and a farm file from v8 opens with its workers intact and the new columns empty.

Real SQLite; the catalogue is a small stand-in with the attributes the farm reads
(version, os, arch), as the real one (downloads/catalogue.py) is tested over HTTP.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from flamenco_gui.farm.events import Change
from flamenco_gui.farm.service import FarmService
from flamenco_gui.farm.states import WorkerReport
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.schema import MIGRATIONS, SCHEMA_VERSION
from flamenco_gui.store.task_logs import TaskLogs


@dataclass(frozen=True)
class Offered:
    version: str
    os: str
    arch: str


class Builds:
    def __init__(self, *builds: Offered) -> None:
        self.on_offer = list(builds)

    async def builds(self) -> list[Offered]:
        return self.on_offer


def service(path: Path, catalogue: Builds | None = None) -> FarmService:
    return FarmService(
        Store(path / "farm.sqlite"),
        TaskLogs(path / "logs"),
        Previews(path / "previews"),
        catalogue=catalogue,
    )


async def test_the_version_is_on_the_row_with_an_event_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    s = service(tmp_path, Builds(Offered("0.2.0", "linux", "x86_64")))
    seen: list[Change] = []
    s.events.subscribe(seen.append)
    worker = s.register_worker("node-1", "Linux")[0]["id"]
    assert s.get_worker(worker)["version"] is None
    seen.clear()
    s.report_worker_version(worker, "0.1.0", "linux", "x86_64", True, "ab" * 32)
    row = s.get_worker(worker)
    assert row["version"] == "0.1.0"
    assert row["build"] is not None
    assert (row["build"]["platform"], row["build"]["frozen"]) == ("linux", True)
    assert [(c.kind, c.id) for c in seen] == [("worker", worker)]
    assert seen[0].row is not None and seen[0].row["version"] == "0.1.0"
    versions = await s.worker_versions()
    assert versions[worker]["update"] == "0.2.0" and versions[worker]["sha256"] == "ab" * 32
    s.store.close()

    again = service(tmp_path)  # a restarted manager, no builds on offer
    assert again.get_worker(worker)["version"] == "0.1.0"
    assert (await again.worker_versions())[worker]["update"] is None
    again.store.close()


async def test_update_all_asks_older_executables_once(tmp_path: Path) -> None:
    s = service(tmp_path, Builds(Offered("0.2.0", "linux", "x86_64")))
    ids = {}
    for name, version, frozen in (
        ("old-exe", "0.1.0", True),
        ("new-exe", "0.2.0", True),
        ("old-checkout", "0.1.0", False),
        ("silent", None, True),
    ):
        ids[name] = s.register_worker(name, "Linux")[0]["id"]
        if version is not None:
            s.report_worker_version(ids[name], version, "linux", "x86_64", frozen, None)
    assert await s.request_worker_updates() == [ids["old-exe"]]
    # Its pull answers at once even with a wait (no work queued), and the flag is taken once.
    pull = s.worker_report(ids["old-exe"], WorkerReport.AVAILABLE, wait=20)
    task, _ = await asyncio.wait_for(pull, 3)  # held, it would time out here
    assert task is None
    assert s.take_update_request(ids["old-exe"]) is True
    assert s.take_update_request(ids["old-exe"]) is False
    assert s.take_update_request(ids["old-checkout"]) is False
    s.store.close()


def test_a_v8_farm_file_gets_the_version_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    for version, migration in enumerate(MIGRATIONS[:8], start=1):
        migration(db)
        db.conn.execute(f"PRAGMA user_version = {version}")
    db.conn.execute(
        "INSERT INTO workers (id, hostname, status, connection) VALUES (3, 'old', 'enabled', "
        "'offline')"
    )
    db.conn.close()
    store = Store(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    row = store.get_worker(3)
    assert row is not None and row["hostname"] == "old"
    assert row["version"] is None and row["build"] is None
    store.update_worker(3, {"version": "0.1.0", "build": {"platform": "linux"}})
    row = store.get_worker(3)
    assert row is not None and row["build"] == {"platform": "linux"}  # JSON both ways
    store.close()
