"""The manifests of `manager` jobs (schema `_v13_job_files`): path in the pack → hash."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from flamenco_gui.rows import JobFile
from flamenco_gui.store.sql import Tables

_BATCH = 500  # hashes per `IN (…)`, well under SQLite's variable limit


class JobFilesTable(Tables):
    def insert_job_files(self, job_id: int, files: Sequence[JobFile]) -> None:
        self.conn.executemany(
            "INSERT INTO job_files (job_id, path, sha256, size) VALUES (?, ?, ?, ?)",
            [(job_id, f["path"], f["sha256"], f["size"]) for f in files],
        )

    def job_files(self, job_id: int) -> list[JobFile]:
        rows = self.conn.execute(
            "SELECT path, sha256, size FROM job_files WHERE job_id = ? ORDER BY path", (job_id,)
        )
        return [cast(JobFile, dict(r)) for r in rows]

    def referenced(self, hashes: Sequence[str]) -> set[str]:
        """Which of `hashes` some job's manifest still names."""
        found: set[str] = set()
        for start in range(0, len(hashes), _BATCH):
            part = hashes[start : start + _BATCH]
            marks = ", ".join("?" for _ in part)
            rows = self.conn.execute(
                f"SELECT DISTINCT sha256 FROM job_files WHERE sha256 IN ({marks})", part
            )
            found.update(r[0] for r in rows)
        return found

    def worker_may_fetch(self, worker_id: int, sha256: str) -> bool:
        """The worker is rendering a task of a job whose manifest has this file."""
        row = self.conn.execute(
            "SELECT 1 FROM tasks t JOIN job_files f ON f.job_id = t.job_id"
            " WHERE t.worker_id = ? AND t.status = 'rendering' AND f.sha256 = ? LIMIT 1",
            (worker_id, sha256),
        ).fetchone()
        return row is not None

    def add_task_frame(self, job_id: int, task_id: int, path: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO task_frames (job_id, task_id, path) VALUES (?, ?, ?)",
            (job_id, task_id, path),
        )

    def task_frame_count(self, task_id: int) -> int:
        row = self.conn.execute("SELECT count(*) FROM task_frames WHERE task_id = ?", (task_id,))
        return int(row.fetchone()[0])
