"""The `frame_records` table (one row per frame of a job, its last render) and the
`farm_history` table (one row per deleted job), with the questions statistics ask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from flamenco_gui.rows import AttemptSums, FarmHistoryRow, FrameRecordRow
from flamenco_gui.store.sql import Tables

FRAME_COLUMNS = (
    "task_id", "worker_id", "lease", "started", "finished",
    "render_seconds", "peak_memory_mb", "path", "bytes", "check", "startup_seconds",
)  # fmt: skip
_SELECT = (
    "SELECT f.job_id, f.frame, f.task_id, f.worker_id, w.hostname AS worker, f.started,"
    ' f.finished, f.render_seconds, f.peak_memory_mb, f.path, f.bytes, f."check"'
    " FROM frame_records f LEFT JOIN workers w ON w.id = f.worker_id"
)


class FramesTable(Tables):
    def upsert_frames(self, job_id: int, rows: Sequence[dict[str, Any]]) -> None:
        """Each row (with `frame` and any of FRAME_COLUMNS) replaces the frame's record
        field by field: a later report of one render fills in what an earlier lacked."""
        cols = ", ".join(f'"{c}"' for c in FRAME_COLUMNS)
        marks = ", ".join("?" for _ in FRAME_COLUMNS)
        # A new render (another task or lease) starts the record afresh.
        updates = ", ".join(
            f'"{c}" = CASE WHEN frame_records.task_id IS excluded.task_id AND '
            f'frame_records.lease IS excluded.lease THEN coalesce(excluded."{c}", '
            f'frame_records."{c}") ELSE excluded."{c}" END'
            for c in FRAME_COLUMNS
        )
        self.conn.executemany(
            f"INSERT INTO frame_records (job_id, frame, {cols}) VALUES (?, ?, {marks}) "
            f"ON CONFLICT (job_id, frame) DO UPDATE SET {updates}",
            [(job_id, r["frame"], *(r.get(c) for c in FRAME_COLUMNS)) for r in rows],
        )

    def set_frame_check(
        self, job_id: int, frame: int, path: str, size: int | None, check: str
    ) -> None:
        """A frame's file checked again (it came back to the manager): its path, size and
        verdict; the rest of its record stays."""
        self.conn.execute(
            'INSERT INTO frame_records (job_id, frame, path, bytes, "check") VALUES (?, ?, ?, ?, ?)'
            " ON CONFLICT (job_id, frame) DO UPDATE SET path = excluded.path,"
            ' bytes = excluded.bytes, "check" = excluded."check"',
            (job_id, frame, path, size, check),
        )

    def job_frames(self, job_id: int, limit: int = -1, offset: int = 0) -> list[FrameRecordRow]:
        rows = self.conn.execute(
            f"{_SELECT} WHERE f.job_id = ? ORDER BY f.frame LIMIT ? OFFSET ?",
            (job_id, limit, offset),
        )
        return cast(list[FrameRecordRow], [dict(r) for r in rows])

    def job_frame_count(self, job_id: int) -> int:
        row = self.conn.execute("SELECT count(*) FROM frame_records WHERE job_id = ?", (job_id,))
        return int(row.fetchone()[0])

    def job_first_started(self, job_id: int) -> float | None:
        """When the job's first task started (its attempts' history)."""
        row = self.conn.execute(
            "SELECT min(h.started) FROM task_history h JOIN tasks t ON t.id = h.task_id"
            " WHERE t.job_id = ?",
            (job_id,),
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def delete_job_frame_slice(self, job_id: int, limit: int) -> int:
        cur = self.conn.execute(
            "DELETE FROM frame_records WHERE rowid IN (SELECT rowid FROM frame_records"
            " WHERE job_id = ? LIMIT ?)",
            (job_id, limit),
        )
        return cur.rowcount

    # -- statistics -----------------------------------------------------------------

    def job_attempts(self, job_id: int) -> list[dict[str, Any]]:
        """Every attempt of every task of the job, with its worker's name."""
        rows = self.conn.execute(
            "SELECT h.task_id, t.frame_start, t.frame_end, h.worker_id, w.hostname AS worker,"
            " h.lease, h.started, h.ended, h.outcome, h.reason FROM task_history h"
            " JOIN tasks t ON t.id = h.task_id LEFT JOIN workers w ON w.id = h.worker_id"
            " WHERE t.job_id = ? ORDER BY h.task_id, h.id",
            (job_id,),
        )
        return [dict(r) for r in rows]

    def job_attempt_sums(self, job_id: int, status: str, after: int, limit: int) -> AttemptSums:
        """The attempts of up to `limit` of the job's tasks in `status` past task id
        `after`, summed: one slice of a job's summary (a whole job's join, 100,000 tasks
        with their history, held the loop ~100 ms). Walks the (job_id, status) index in
        id order, as a job action's slice does."""
        row = self.conn.execute(
            "SELECT max(part.id), min(h.started), max(h.ended), sum(h.ended - h.started),"
            " sum(h.outcome = 'failed') FROM (SELECT id FROM tasks INDEXED BY tasks_job_status"
            " WHERE job_id = ? AND status = ? AND id > ? ORDER BY id LIMIT ?) part"
            " LEFT JOIN task_history h ON h.task_id = part.id",
            (job_id, status, after, limit),
        ).fetchone()
        return AttemptSums(row[0], row[1], row[2], float(row[3] or 0.0), int(row[4] or 0))

    def job_frames_rendered(self, job_id: int) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM frame_records WHERE job_id = ? AND finished IS NOT NULL",
            (job_id,),
        ).fetchone()
        return int(row[0])

    def add_farm_history(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(
            f"INSERT OR REPLACE INTO farm_history ({cols}) VALUES ({marks})", tuple(row.values())
        )

    def farm_history(self, since: float) -> list[FarmHistoryRow]:
        rows = self.conn.execute(
            "SELECT * FROM farm_history WHERE coalesce(last_finished, deleted) >= ?"
            " ORDER BY job_id",
            (since,),
        )
        return cast(list[FarmHistoryRow], [dict(r) for r in rows])

    def frames_finished_since(self, since: float) -> list[dict[str, Any]]:
        """(worker, finished, started) of every frame finished since `since`."""
        rows = self.conn.execute(
            "SELECT f.worker_id, w.hostname AS worker, f.started, f.finished"
            " FROM frame_records f LEFT JOIN workers w ON w.id = f.worker_id"
            " WHERE f.finished >= ? ORDER BY f.finished",
            (since,),
        )
        return [dict(r) for r in rows]

    def attempts_since(self, since: float) -> list[dict[str, Any]]:
        """(worker, started, ended, outcome) of every attempt that ended since `since`
        or still runs (both through the `ended` index)."""
        select = (
            "SELECT h.worker_id, w.hostname AS worker, h.started, h.ended, h.outcome"
            " FROM task_history h INDEXED BY task_history_ended"
            " LEFT JOIN workers w ON w.id = h.worker_id WHERE "
        )
        ended = self.conn.execute(select + "h.ended >= ?", (since,)).fetchall()
        running = self.conn.execute(select + "h.ended IS NULL").fetchall()
        return [dict(r) for r in (*ended, *running)]
