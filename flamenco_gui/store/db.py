"""The farm's SQLite file: connection, transactions and every query.

Writes run on the event-loop thread in short transactions (tens of microseconds each
in WAL mode with synchronous=NORMAL): a thread hop per tiny write costs more than the
write. What can stall — WAL checkpoints — runs on a thread of its own with its own
connection, so a commit on the loop never pays for one. See docs/decisions.md.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from flamenco_gui.store.schema import migrate

Row = dict[str, Any]

# The columns the farm's rules read on every worker report (no JSON, no big text).
_TASK_STATE = "id, job_id, worker_id, status, lease, attempts, frame_start, frame_end, priority"
_ELIGIBLE_WORKERS = (
    "SELECT count(*) FROM workers w WHERE connection = 'online' AND status = 'enabled'"
)

_JSON_COLUMNS = {
    "tasks": ("commands",),
    "workers": ("update_frequent", "update_less_frequent"),
    "jobs": ("settings",),
}


def _encode(table: str, fields: Row) -> Row:
    cols = _JSON_COLUMNS.get(table, ())
    return {k: json.dumps(v) if k in cols and v is not None else v for k, v in fields.items()}


def _decode(table: str, row: sqlite3.Row | None) -> Row | None:
    if row is None:
        return None
    out = dict(row)
    for col in _JSON_COLUMNS.get(table, ()):
        if out.get(col) is not None:
            out[col] = json.loads(out[col])
    return out


class Store:
    """All persistence of the farm. Only this class writes SQL."""

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=5000")
        # Checkpoints are the checkpointer thread's job, never a commit's on the loop.
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        self.db = sqlite_utils.Database(self.conn)
        migrate(self.db)
        self._depth = 0
        self._group_open = False
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start_checkpointer(self, interval: float = 2.0) -> None:
        def run() -> None:
            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=5000")
            try:
                while not self._stop.wait(interval):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()

        self._checkpointer = threading.Thread(target=run, name="sqlite-checkpoint", daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        with contextlib.suppress(sqlite3.Error):
            self.commit_group()
        # On a full disk the checkpoint fails; the WAL stays and is replayed at next start.
        with contextlib.suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    @property
    def in_transaction(self) -> bool:
        """Inside a `tx()` block (an open group between blocks does not count)."""
        return self._depth > 0

    @property
    def group_open(self) -> bool:
        """A group transaction holds changes that `commit_group()` has yet to commit."""
        return self._group_open

    @contextmanager
    def tx(self, *, group: bool = False) -> Iterator[None]:
        """One transaction; nested uses join the outer one. Committed on exit.

        With `group`, the block joins the open group transaction (beginning one if
        need be) as a savepoint: an error undoes this block alone, and nothing is
        committed until `commit_group()`. Many small changes then share one commit,
        the costliest step of a small write. A plain `tx()` needs the group committed
        first (the caller's job, as it knows who waits for that commit).
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        if group:
            yield from self._grouped()
            return
        if self._group_open:
            raise RuntimeError("a group transaction is open: commit_group() first")
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def _grouped(self) -> Iterator[None]:
        if not self._group_open:
            self.conn.execute("BEGIN IMMEDIATE")
            self._group_open = True
        self.conn.execute("SAVEPOINT change")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            try:
                self.conn.execute("ROLLBACK TO change")
                self.conn.execute("RELEASE change")
            except sqlite3.Error:
                self._rollback_group()
            raise
        self._depth = 0
        self.conn.execute("RELEASE change")

    def commit_group(self) -> None:
        """Commit the group transaction; on failure nothing of it stays, and it raises."""
        if not self._group_open:
            return
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            self._rollback_group()
            raise
        self._group_open = False

    def _rollback_group(self) -> None:
        self._group_open = False
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    # -- generic helpers -------------------------------------------------------------

    def _get(self, table: str, row_id: int) -> Row | None:
        cur = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
        return _decode(table, cur.fetchone())

    def _update(self, table: str, row_id: int, fields: Row) -> bool:
        if not fields:
            return True
        enc = _encode(table, fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        cur = self.conn.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?", (*enc.values(), row_id)
        )
        return cur.rowcount > 0

    def _insert(self, table: str, row: Row) -> int:
        enc = _encode(table, row)
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

    def _select(self, table: str, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [_decode(table, r) for r in self.conn.execute(sql, params)]  # type: ignore[misc]

    def _page(
        self, table: str, filters: dict[str, Any], limit: int, offset: int
    ) -> tuple[list[Row], int]:
        """One page of a table in id order, filtered by equality, and the total count."""
        given = {col: val for col, val in filters.items() if val is not None}
        where = ("WHERE " + " AND ".join(f"{col} = ?" for col in given)) if given else ""
        params = list(given.values())
        total = self.conn.execute(f"SELECT count(*) FROM {table} {where}", params).fetchone()[0]
        rows = self._select(
            table,
            f"SELECT * FROM {table} {where} ORDER BY id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, total

    # -- settings --------------------------------------------------------------------

    def get_setting(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    # -- workers ---------------------------------------------------------------------

    def insert_worker(self, row: Row) -> int:
        return self._insert("workers", row)

    def get_worker(self, worker_id: int) -> Row | None:
        return self._get("workers", worker_id)

    def worker_state(self, worker_id: int) -> Row | None:
        """A worker's switch and connection, without its machine reports."""
        return self._one("SELECT id, status, connection FROM workers WHERE id = ?", (worker_id,))

    def worker_by_hostname(self, hostname: str) -> Row | None:
        cur = self.conn.execute("SELECT * FROM workers WHERE hostname = ?", (hostname,))
        return _decode("workers", cur.fetchone())

    def update_worker(self, worker_id: int, fields: Row) -> bool:
        """False when there is no such worker."""
        return self._update("workers", worker_id, fields)

    def delete_worker(self, worker_id: int) -> None:
        self.conn.execute("UPDATE tasks SET worker_id = NULL WHERE worker_id = ?", (worker_id,))
        self.conn.execute(
            "UPDATE task_history SET worker_id = NULL WHERE worker_id = ?", (worker_id,)
        )
        self.conn.execute("DELETE FROM job_blocklist WHERE worker_id = ?", (worker_id,))
        self.conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    def list_workers(self) -> list[Row]:
        return self._select("workers", "SELECT * FROM workers ORDER BY id")

    def worker_secret_hashes(self) -> dict[str, int]:
        cur = self.conn.execute("SELECT secret_hash, id FROM workers WHERE secret_hash IS NOT NULL")
        return {h: i for h, i in cur}

    def stale_workers(self, seen_before: float) -> list[Row]:
        return self._select(
            "workers",
            "SELECT * FROM workers WHERE connection = 'online' AND last_seen < ?",
            (seen_before,),
        )

    # -- jobs ------------------------------------------------------------------------

    @staticmethod
    def encode_tasks(tasks: Sequence[Row]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Task rows as columns and value tuples for `insert_job`. Pure, so a caller may
        run it on a worker thread: encoding 100k rows takes the better part of a second."""
        if not tasks:
            return [], []
        cols = [c for c in tasks[0] if c != "job_id"]
        enc = [_encode("tasks", t) for t in tasks]
        return cols, [tuple(r[c] for c in cols) for r in enc]

    def insert_job(self, job: Row) -> int:
        return self._insert("jobs", job)

    def insert_tasks(
        self, job_id: int, columns: Sequence[str], values: Sequence[tuple[Any, ...]]
    ) -> list[int]:
        """Insert encoded task rows of one job with one executemany; returns their ids."""
        before = self.conn.execute("SELECT coalesce(max(id), 0) FROM tasks").fetchone()[0]
        cols = ", ".join(["job_id", *columns])
        marks = ", ".join("?" for _ in range(len(columns) + 1))
        self.conn.executemany(
            f"INSERT INTO tasks ({cols}) VALUES ({marks})", ((job_id, *v) for v in values)
        )
        # Rows past the old maximum are ours: this transaction is the only writer.
        cur = self.conn.execute("SELECT id FROM tasks WHERE id > ? ORDER BY id", (before,))
        return [r[0] for r in cur]

    def insert_deps(self, pairs: Sequence[tuple[int, int]]) -> None:
        """(task, the task it waits for) pairs."""
        self.conn.executemany("INSERT INTO task_deps (task_id, depends_on) VALUES (?, ?)", pairs)

    def queued_dependents(self, task_id: int) -> list[Row]:
        return self._select(
            "tasks",
            "SELECT t.* FROM task_deps d JOIN tasks t ON t.id = d.task_id "
            "WHERE d.depends_on = ? AND t.status = 'queued'",
            (task_id,),
        )

    def depends_on(self, task_id: int) -> list[int]:
        cur = self.conn.execute("SELECT depends_on FROM task_deps WHERE task_id = ?", (task_id,))
        return [r[0] for r in cur]

    def incomplete_jobs(self) -> list[int]:
        """Jobs with fewer tasks than they were submitted with (a cut-short insert)."""
        cur = self.conn.execute(
            "SELECT j.id FROM jobs j WHERE j.tasks_expected IS NOT NULL AND j.tasks_expected > "
            "(SELECT count(*) FROM tasks t WHERE t.job_id = j.id)"
        )
        return [r[0] for r in cur]

    def blank_task(self) -> Row:
        """A task row as the table would default it: every column, with its default."""
        if not hasattr(self, "_blank_task"):
            cur = self.conn.execute("PRAGMA table_info(tasks)")
            self._blank_task = {
                name: None if default is None else json.loads(default)
                for _, name, _, _, default, _ in cur
            }
        return dict(self._blank_task)

    def get_job(self, job_id: int) -> Row | None:
        return self._get("jobs", job_id)

    def job_status_and_counts(self, job_id: int) -> tuple[str, dict[str, int]] | None:
        """A job's status and its task counts (see `job_task_counts`) in one query."""
        rows = self.conn.execute(
            "SELECT j.status, c.status, c.n FROM jobs j LEFT JOIN job_task_counts c"
            " ON c.job_id = j.id AND c.n > 0 WHERE j.id = ?",
            (job_id,),
        ).fetchall()
        if not rows:
            return None
        return str(rows[0][0]), {status: n for _, status, n in rows if status is not None}

    def update_job(self, job_id: int, fields: Row) -> None:
        self._update("jobs", job_id, fields)

    def delete_job(self, job_id: int) -> None:
        self.conn.execute(
            "DELETE FROM task_history WHERE task_id IN (SELECT id FROM tasks WHERE job_id = ?)",
            (job_id,),
        )
        self.conn.execute("DELETE FROM job_blocklist WHERE job_id = ?", (job_id,))
        self.conn.execute(
            "DELETE FROM task_deps WHERE task_id IN (SELECT id FROM tasks WHERE job_id = ?)",
            (job_id,),
        )
        self.conn.execute("DELETE FROM tasks WHERE job_id = ?", (job_id,))
        self.conn.execute("DELETE FROM job_task_counts WHERE job_id = ?", (job_id,))
        self.conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def list_jobs(self, status: str | None, limit: int, offset: int) -> tuple[list[Row], int]:
        return self._page("jobs", {"status": status}, limit, offset)

    def job_task_counts(self, job_id: int) -> dict[str, int]:
        """Kept by triggers on `tasks` (schema v5), so reading it costs no scan."""
        cur = self.conn.execute(
            "SELECT status, n FROM job_task_counts WHERE job_id = ? AND n > 0", (job_id,)
        )
        return dict(cur.fetchall())

    def job_task_ids(self, job_id: int, statuses: Sequence[str] | None = None) -> list[int]:
        sql, params = "SELECT id FROM tasks WHERE job_id = ?", [job_id]
        if statuses is not None:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params += list(statuses)
        return [r[0] for r in self.conn.execute(sql + " ORDER BY id", params)]

    # -- tasks -----------------------------------------------------------------------

    def insert_task(self, row: Row) -> int:
        return self._insert("tasks", row)

    def get_task(self, task_id: int) -> Row | None:
        return self._get("tasks", task_id)

    def task_state(self, task_id: int) -> Row | None:
        """What the rules need of a task (lease, status, owner, frames), without the
        big columns: the hot path of every worker report."""
        return self._one(f"SELECT {_TASK_STATE} FROM tasks WHERE id = ?", (task_id,))

    def get_tasks(self, task_ids: Sequence[int]) -> list[Row]:
        out: list[Row] = []
        for i in range(0, len(task_ids), 500):
            chunk = task_ids[i : i + 500]
            out += self._select(
                "tasks",
                f"SELECT * FROM tasks WHERE id IN ({', '.join('?' for _ in chunk)}) ORDER BY id",
                chunk,
            )
        return out

    def update_task(self, task_id: int, fields: Row) -> None:
        self._update("tasks", task_id, fields)

    def update_tasks(self, task_ids: Sequence[int], fields: Row) -> None:
        enc = _encode("tasks", fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        self.conn.executemany(
            f"UPDATE tasks SET {assignments} WHERE id = ?",
            [(*enc.values(), i) for i in task_ids],
        )

    def set_job_priority(self, job_id: int, priority: int) -> None:
        self.conn.execute("UPDATE jobs SET priority = ? WHERE id = ?", (priority, job_id))
        self.conn.execute("UPDATE tasks SET job_priority = ? WHERE job_id = ?", (priority, job_id))

    def delete_task(self, task_id: int) -> None:
        self.conn.execute("DELETE FROM task_history WHERE task_id = ?", (task_id,))
        self.conn.execute(
            "DELETE FROM task_deps WHERE task_id = ? OR depends_on = ?", (task_id, task_id)
        )
        self.conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    def list_tasks(
        self,
        *,
        status: str | None = None,
        job_id: int | None = None,
        worker_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Row], int]:
        filters = {"status": status, "job_id": job_id, "worker_id": worker_id}
        return self._page("tasks", filters, limit, offset)

    def next_queued_task(self, worker_id: int) -> Row | None:
        """The head of the dispatch order that this worker may run (its state columns).

        Not a task of a job it is blocklisted on; not a task it already failed, unless
        every eligible worker (online, enabled) has failed it too, so a retry goes to
        another worker whenever there is one. The workers are counted only when that
        question comes up.
        """
        return self._one(
            f"SELECT {_TASK_STATE} FROM tasks INDEXED BY tasks_dispatch WHERE status = 'queued' "
            "AND NOT (job_id IS NOT NULL AND EXISTS (SELECT 1 FROM job_blocklist b "
            "  WHERE b.job_id = tasks.job_id AND b.worker_id = :w)) "
            "AND NOT (EXISTS (SELECT 1 FROM task_history h WHERE h.task_id = tasks.id "
            "  AND h.worker_id = :w AND h.outcome = 'failed') "
            "  AND (SELECT count(DISTINCT h2.worker_id) FROM task_history h2 "
            "       WHERE h2.task_id = tasks.id AND h2.outcome = 'failed') < "
            f"  ({_ELIGIBLE_WORKERS})) "
            "AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks t2 ON t2.id = d.depends_on "
            "  WHERE d.task_id = tasks.id AND t2.status != 'completed') "
            "ORDER BY job_priority DESC, priority DESC, id LIMIT 1",
            {"w": worker_id},
        )

    def count_eligible_workers(self, job_id: int) -> int:
        """Online, enabled workers not blocklisted on `job_id`."""
        sql = (
            _ELIGIBLE_WORKERS + " AND NOT EXISTS (SELECT 1 FROM job_blocklist b"
            " WHERE b.job_id = ? AND b.worker_id = w.id)"
        )
        return int(self.conn.execute(sql, (job_id,)).fetchone()[0])

    # -- blocklist -------------------------------------------------------------------

    def failures_in_job(self, job_id: int, worker_id: int) -> int:
        cur = self.conn.execute(
            "SELECT count(*) FROM task_history h JOIN tasks t ON t.id = h.task_id "
            "WHERE t.job_id = ? AND h.worker_id = ? AND h.outcome = 'failed'",
            (job_id, worker_id),
        )
        return int(cur.fetchone()[0])

    def blocklist_add(self, job_id: int, worker_id: int, created: float, reason: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO job_blocklist (job_id, worker_id, created, reason) "
            "VALUES (?, ?, ?, ?)",
            (job_id, worker_id, created, reason),
        )

    def blocklist(self, job_id: int) -> list[Row]:
        cur = self.conn.execute(
            "SELECT b.*, w.hostname FROM job_blocklist b LEFT JOIN workers w ON w.id = b.worker_id "
            "WHERE b.job_id = ? ORDER BY b.created",
            (job_id,),
        )
        return [dict(r) for r in cur]

    def blocklist_clear(self, job_id: int, worker_id: int | None) -> None:
        if worker_id is None:
            self.conn.execute("DELETE FROM job_blocklist WHERE job_id = ?", (job_id,))
        else:
            self.conn.execute(
                "DELETE FROM job_blocklist WHERE job_id = ? AND worker_id = ?", (job_id, worker_id)
            )

    def tasks_leased_to(self, worker_id: int) -> list[Row]:
        return self._select(
            "tasks",
            "SELECT * FROM tasks WHERE worker_id = ? AND status = 'rendering'",
            (worker_id,),
        )

    def hung_tasks(self, progress_before: float) -> list[Row]:
        return self._select(
            "tasks",
            "SELECT * FROM tasks WHERE status = 'rendering' AND last_progress < ?",
            (progress_before,),
        )

    # -- history ---------------------------------------------------------------------

    def add_history(self, row: Row) -> int:
        return self._insert("task_history", row)

    def close_history(self, task_id: int, lease: int, fields: Row) -> None:
        enc = _encode("task_history", fields)
        assignments = ", ".join(f"{k} = ?" for k in enc)
        self.conn.execute(
            f"UPDATE task_history SET {assignments} "
            "WHERE task_id = ? AND lease = ? AND ended IS NULL",
            (*enc.values(), task_id, lease),
        )

    def history(self, task_id: int) -> list[Row]:
        return self._select(
            "task_history", "SELECT * FROM task_history WHERE task_id = ? ORDER BY id", (task_id,)
        )
