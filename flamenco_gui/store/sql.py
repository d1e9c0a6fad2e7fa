"""Small SQL helpers shared by the store's tables: JSON columns, get/insert/update, pages.

Table and column names in these statements come from this package, never from a
request: values are always bound parameters.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

Row = dict[str, Any]

# Columns kept as JSON text in SQLite and as Python objects above the store.
JSON_COLUMNS = {
    "tasks": ("commands",),
    "workers": ("update_frequent", "update_less_frequent", "build", "control", "schedule"),
    "jobs": ("settings", "tags"),
}


def encode(table: str, fields: Row) -> Row:
    cols = JSON_COLUMNS.get(table, ())
    return {k: json.dumps(v) if k in cols and v is not None else v for k, v in fields.items()}


def decode(table: str, row: sqlite3.Row) -> Row:
    out = dict(row)
    for col in JSON_COLUMNS.get(table, ()):
        if out.get(col) is not None:
            out[col] = json.loads(out[col])
    return out


class Tables:
    """The connection and the generic statements every table module builds on."""

    conn: sqlite3.Connection

    def _get(self, table: str, row_id: int) -> Row | None:
        row = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else decode(table, row)

    def _update(self, table: str, row_id: int, fields: Row) -> bool:
        """False when there is no such row."""
        if not fields:
            return True
        enc = encode(table, fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        cur = self.conn.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?", (*enc.values(), row_id)
        )
        return cur.rowcount > 0

    def _insert(self, table: str, row: Row) -> int:
        enc = encode(table, row)
        cols = ", ".join(enc)
        marks = ", ".join("?" for _ in enc)
        cur = self.conn.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(enc.values())
        )
        return int(cur.lastrowid or 0)

    def _one(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> Row | None:
        """One row of plain columns (no JSON to decode), or None."""
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else dict(row)

    def _select(
        self, table: str, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[Row]:
        return [decode(table, r) for r in self.conn.execute(sql, params)]

    def _ids(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[int]:
        return [int(r[0]) for r in self.conn.execute(sql, params)]

    def _page(
        self, table: str, filters: Row, limit: int, offset: int, where: str = ""
    ) -> tuple[list[Row], int]:
        """One page of a table in id order, filtered by equality (and `where`), with the
        total count."""
        given = {col: val for col, val in filters.items() if val is not None}
        clauses = [f"{col} = ?" for col in given] + ([where] if where else [])
        sql_where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        params = list(given.values())
        total = self.conn.execute(f"SELECT count(*) FROM {table} {sql_where}", params).fetchone()
        rows = self._select(
            table,
            f"SELECT * FROM {table} {sql_where} ORDER BY id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, int(total[0])


def marks(values: Sequence[Any]) -> str:
    """`?, ?, ?` for an IN list of `values`."""
    return ", ".join("?" for _ in values)
