"""The `task_history` table: one row per attempt (a lease) of a task."""

from __future__ import annotations

from typing import cast

from flamenco_gui.rows import Fields, HistoryRow
from flamenco_gui.store.sql import Tables, encode


class HistoryTable(Tables):
    def add_history(self, row: Fields) -> int:
        return self._insert("task_history", row)

    def close_history(self, task_id: int, lease: int, fields: Fields) -> None:
        enc = encode("task_history", fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        self.conn.execute(
            f"UPDATE task_history SET {assignments} "
            "WHERE task_id = ? AND lease = ? AND ended IS NULL",
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
