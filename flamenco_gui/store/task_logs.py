"""Task logs as plain append-only files beside the database.

Logs are the bulk of a farm's data (Blender prints a line per sample): kept out of
SQLite they cost no memory, no WAL churn and no vacuum, and a wrangler can `tail -f`
them. Appends are unbuffered writes that survive a killed process (the page cache
keeps them), each whole or cut back on error; the SQLite rows keep everything that
must be exact.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

_TAIL_BLOCK = 64 * 1024


class TaskLogs:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, task_id: int) -> Path:
        return self.root / f"{task_id // 1000:04d}" / f"task-{task_id}.log"

    def append(self, task_id: int, lines: Sequence[str]) -> None:
        """Append whole or not at all: on any error (a full disk) the file is cut back
        to its size before, so a refused batch leaves the log byte-identical."""
        if not lines:
            return
        path = self.path(task_id)
        data = "".join(line.rstrip("\r\n") + "\n" for line in lines).encode(
            "utf-8", errors="replace"
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError:
                os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)

    def size(self, task_id: int) -> int:
        try:
            return self.path(task_id).stat().st_size
        except FileNotFoundError:
            return 0

    def read_range(self, task_id: int, offset: int, limit: int) -> bytes:
        try:
            with self.path(task_id).open("rb") as f:
                f.seek(offset)
                return f.read(limit)
        except FileNotFoundError:
            return b""

    def tail(self, task_id: int, lines: int) -> bytes:
        """The last `lines` lines, reading backwards so a huge log costs only its tail."""
        try:
            f = self.path(task_id).open("rb")
        except FileNotFoundError:
            return b""
        with f:
            end = f.seek(0, os.SEEK_END)
            pos, data = end, b""
            while pos > 0 and data.count(b"\n") <= lines:
                step = min(_TAIL_BLOCK, pos)
                pos -= step
                f.seek(pos)
                data = f.read(step) + data
        parts = data.splitlines(keepends=True)
        return b"".join(parts[-lines:]) if lines > 0 else b""

    def delete(self, task_id: int) -> None:
        self.path(task_id).unlink(missing_ok=True)
