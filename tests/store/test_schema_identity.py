"""Schema v10: a farm file of v7 opens, with worker ids, accepts and task kinds."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from flamenco_gui.store import schema


def test_a_v7_farm_migrates_and_then_holds_two_workers_with_one_name(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "farm.db")
    for step in schema.MIGRATIONS[:7]:
        step(db)
    db.conn.execute("PRAGMA user_version = 7")
    db["workers"].insert({"hostname": "render", "status": "enabled", "connection": "online"})
    with pytest.raises(Exception, match="UNIQUE"):  # v7: one name, one worker
        db["workers"].insert({"hostname": "render", "status": "enabled", "connection": "online"})
    for type_ in ("command", "simple_blender_render"):
        db["tasks"].insert({"type": type_, "status": "queued", "priority": 0, "lease": 0})
    db.conn.commit()
    assert schema.migrate(db) == 7
    db["workers"].insert(
        {"hostname": "render", "status": "enabled", "connection": "online", "uuid": "u-1"}
    )
    assert [r["hostname"] for r in db["workers"].rows] == ["render", "render"]
    with pytest.raises(Exception, match="UNIQUE"):  # an id is one worker
        db["workers"].insert(
            {"hostname": "other", "status": "enabled", "connection": "online", "uuid": "u-1"}
        )
    assert [r["needs"] for r in db["tasks"].rows] == ["command", "blender_render"]
    schema.MIGRATIONS[-1](db)  # safe to run again
