"""The `task_history` table: one row per attempt (a lease) of a task."""

from __future__ import annotations

from typing import cast

from flamenco_gui.rows import Fields, HistoryRow
from flamenco_gui.store.sql import Tables, encode


class HistoryTable(Tables):
    def amend_attempt(self, task_id: int, lease: int, fields: Fields) -> None:
        """An ended attempt's outcome and reason, where they are not what the table's
        trigger wrote (schema v15: the task's new status, "by the worker")."""
        enc = encode("task_history", fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        self.conn.execute(
            f"UPDATE task_history SET {assignments} WHERE task_id = ? AND lease = ?",
            (*enc.values(), task_id, lease),
        )

    def history(self, task_id: int) -> list[HistoryRow]:
        return cast(
            list[HistoryRow],
            self._select(
                "task_history",
                "SELECT * FROM task_history WHERE task_id = ? ORDER BY id",
                (task_id,),
            ),
        )
