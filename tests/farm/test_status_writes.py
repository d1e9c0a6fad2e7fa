"""Only the task state machine writes a task's or a job's status.

Enumerated from the source: every call of the store's status writers, and every SQL
text in the package that sets a `status` of `tasks` or `jobs`. The store's generic
updates refuse a status, so no other path can write one without showing up here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import flamenco_gui
from flamenco_gui.store.db import Store

PACKAGE = Path(flamenco_gui.__file__).parent
STATUS_WRITERS = {"move_task", "move_tasks", "complete_leased_task", "set_job_status"}
SETS_STATUS = re.compile(r"UPDATE\s+(tasks|jobs)\s+SET\b[^;]*?\bstatus\s*=", re.I | re.S)


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(), str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_only_the_state_machine_calls_the_status_writers() -> None:
    callers = sorted(
        (name, node.lineno)
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in STATUS_WRITERS
    )
    assert callers, "the scan found no status write at all: it is looking in the wrong place"
    assert {name for name, _ in callers} == {"farm/task_state_machine.py"}, callers


def test_no_other_sql_sets_a_status() -> None:
    found = sorted(
        (name, node.lineno)
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SETS_STATUS.search(node.value)
    )
    # The one statement is set_job_status's own; a task's status goes through the
    # generic move_task(s), which only the state machine calls (above).
    assert [name for name, _ in found] == ["store/jobs.py"], found


def test_the_generic_updates_refuse_a_status(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    with store.uow.change():
        job = store.insert_job({"name": "j", "type": "command", "status": "queued", "priority": 1})
        task = store.insert_task(
            {"job_id": job, "type": "command", "status": "queued", "priority": 0}
        )
    with pytest.raises(ValueError, match="move_task"), store.uow.change():
        store.update_task(task, {"status": "completed", "progress": 100.0})
    with pytest.raises(ValueError, match="set_job_status"), store.uow.change():
        store.update_job(job, {"status": "completed"})
    row = store.get_task(task)
    assert row is not None and (row["status"], row["progress"]) == ("queued", 0.0)
    assert store.job_status_and_counts(job) == ("queued", {"queued": 1})
    store.close()
