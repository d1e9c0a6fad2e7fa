"""What each frame of a task took, as the worker saw it: one record per frame.

Fed with the parser's line reports as the output arrives, it notes when a frame
started (where the previous frame was saved; for the first frame, its first status
line, the time before it noted as the task's start-up), when it was saved, Blender's own render time
for it and the memory peak Blender printed while on it. A task whose program reports no
frames (a `command` task) gets one record for the whole task. The records ride along
with the task's progress reports, whole each time (a newer report replaces an unsent
older one in the outbox, so none may depend on another), and the manager keeps them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flamenco_gui.frame_check import FrameRules, check_frame
from flamenco_gui.parsers.base import LineReport

Record = dict[str, Any]
# The manager takes at most this many records a report (api/schemas.py); a longer
# chunk sends its newest ones, so no report (above all the final one) is refused.
MAX_RECORDS = 10_000


class FrameRecords:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._started = clock()
        self._records: dict[int, Record] = {}
        self._current: int | None = None
        self._last_saved: int | None = None
        self._task: Record | None = None  # a task with no frames: one record

    def feed(self, report: LineReport) -> None:
        now = self._clock()
        if report.frame is not None and report.frame != self._current:
            self._current = report.frame
            if report.frame not in self._records:
                self._records[report.frame] = self._begin(report.frame, now)
        record = self._records.get(self._current) if self._current is not None else None
        if record is not None and report.peak_memory_mb is not None:
            record["peak_memory_mb"] = max(record.get("peak_memory_mb", 0.0), report.peak_memory_mb)
        if report.saved is not None and record is not None:
            record["finished"] = now
            record["path"] = report.saved
            self._last_saved = self._current
        if report.render_seconds is not None and self._last_saved is not None:
            # 2.8x and later print the time on the line after "Saved:".
            self._records[self._last_saved]["render_seconds"] = report.render_seconds

    def _begin(self, frame: int, now: float) -> Record:
        """A frame starts where the previous one was saved (what Blender does between
        two frames belongs to the next); the first when Blender first reports it, the
        time before that (loading the file) noted as the task's start-up."""
        if self._last_saved is not None:
            return {"frame": frame, "started": self._records[self._last_saved]["finished"]}
        return {"frame": frame, "started": now, "startup_seconds": round(now - self._started, 3)}

    def finish_task(self, frame: int | None) -> None:
        """The program ended: a task without frame reports gets its one record."""
        if not self._records:
            self._task = {"frame": frame, "started": self._started, "finished": self._clock()}
            self._task["render_seconds"] = round(self._task["finished"] - self._started, 3)

    def records(self) -> list[Record]:
        """Every record so far, frames in order (a copy: safe to send)."""
        if self._task is not None:
            return [dict(self._task)]
        return [dict(self._records[f]) for f in sorted(self._records)[-MAX_RECORDS:]]

    def check(
        self,
        frame_start: int | None,
        frame_end: int | None,
        rules: FrameRules,
        folder: Path | None = None,
    ) -> list[str]:
        """Check every frame the task should have written; returns the failures' reasons
        (and notes each verdict and file size on its record). Reads files: run it on a
        thread. Frames without a `Saved:` line are missing. A relative saved path is
        the task's `folder`'s (a `manager` job renders in its laid-out files)."""
        failures: list[str] = []
        if frame_start is None or frame_end is None or not self._records:
            return failures
        for frame in range(frame_start, frame_end + 1):
            record = self._records.setdefault(frame, {"frame": frame})
            path = record.get("path")
            if path is None:
                record["check"] = f"frame {frame} failed the exists check: no file was saved"
                failures.append(record["check"])
                continue
            found = Path(os.path.expanduser(path))
            if folder is not None and not found.is_absolute():
                found = folder / found
            verdict = check_frame(found, rules)
            record["bytes"] = verdict.bytes
            record["check"] = "ok" if verdict.ok else verdict.reason(frame)
            if not verdict.ok:
                failures.append(record["check"])
        return failures
