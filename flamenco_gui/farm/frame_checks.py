"""Is every frame of a job there and sound? "Check frames", "Re-render these" and the
re-check of a frame file that came back to the manager (docs/statistics.md).

Where a frame is checked:

- on the worker, before it reports a task completed (worker/task_run.py): the files
  it just wrote, where it wrote them. That is the check that fails a task.
- on the manager, "Check frames" reads the job's output folder when the manager can
  see it (shared storage mounted on the manager too, one machine, or frames that came
  back to it). When it cannot (the folder does not exist here: a NAS path only render
  nodes mount), the answer is built from the workers' own checks in the per-frame
  records instead, and says so in `source`.

File reads and decoding run on a thread, never on the loop.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from flamenco_gui.compilers.frames import blender_frame_files
from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Invalid
from flamenco_gui.farm.frames import RENDER_TYPES, FrameStore, frame_rules
from flamenco_gui.frame_check import FrameRules, FrameVerdict, check_frame
from flamenco_gui.rows import JobRow

FROM_FOLDER = "output folder"
FROM_RECORDS = "worker records"


def expected_files(job_type: str, settings: dict[str, Any]) -> dict[int, str] | None:
    """Frame -> the file a render job writes for it; None for a job without frames."""
    if job_type not in RENDER_TYPES:
        return None
    pattern = blender_frame_files(settings["render_output"], settings.get("format", "PNG"))
    start, end = int(settings.get("frame_start", 1)), int(settings.get("frame_end", 1))
    return {frame: pattern % frame for frame in range(start, end + 1)}


def scan(files: dict[int, str], rules: FrameRules) -> dict[int, FrameVerdict]:
    """Check every file (reads them: on a thread). Without an expected resolution, the
    one most frames have is expected of all (a frame rendered at the wrong size stands
    out among its neighbours)."""
    verdicts = {frame: check_frame(path, rules) for frame, path in files.items()}
    if rules.resolution is None:
        sizes = Counter(v.resolution for v in verdicts.values() if v.ok and v.resolution)
        if len(sizes) > 1:
            common = sizes.most_common(1)[0][0]
            strict = replace(rules, resolution=common)
            for frame, verdict in verdicts.items():
                if verdict.ok and verdict.resolution != common:
                    verdicts[frame] = check_frame(files[frame], strict)
    return verdicts


def sound_frames(job_type: str, settings: dict[str, Any], rules: FrameRules | None) -> set[int]:
    """The frames already in the output and sound (for `skip_existing`; on a thread)."""
    files = expected_files(job_type, settings)
    if not files or rules is None:
        return set()
    present = {f: p for f, p in files.items() if os.path.exists(p)}
    return {f for f, v in scan(present, rules).items() if v.ok}


def frame_runs(frames: Sequence[int], chunk_size: int) -> list[tuple[int, int]]:
    """Sorted frames as inclusive (start, end) chunks of consecutive frames."""
    runs: list[tuple[int, int]] = []
    for frame in sorted(set(frames)):
        if runs and frame == runs[-1][1] + 1 and frame - runs[-1][0] < chunk_size:
            runs[-1] = (runs[-1][0], frame)
        else:
            runs.append((frame, frame))
    return runs


class FrameChecks:
    def __init__(self, store: FrameStore, changes: Changes) -> None:
        self._store = store
        self._changes = changes

    async def check(self, job: JobRow) -> dict[str, Any]:
        """`{"frames", "missing", "broken", "source"}` for a finished (or any) job."""
        files = expected_files(job["type"], job["settings"])
        rules = frame_rules(job["type"], job["settings"])
        if files is None or rules is None:
            raise Invalid(f"job {job['id']}: a {job['type']} job writes no frames to check")
        folders = {os.path.dirname(p) or "." for p in files.values()}
        if all(os.path.isdir(f) for f in folders):
            verdicts = await asyncio.to_thread(scan, files, rules)
            missing = sorted(f for f, v in verdicts.items() if v.check == "exists")
            broken = [
                {"frame": f, "reason": v.reason(f)}
                for f, v in sorted(verdicts.items())
                if not v.ok and v.check != "exists"
            ]
            return {
                "frames": len(files),
                "missing": missing,
                "broken": broken,
                "source": FROM_FOLDER,
            }
        return self._from_records(job["id"], files)

    def _from_records(self, job_id: int, files: dict[int, str]) -> dict[str, Any]:
        records = {r["frame"]: r for r in self._store.job_frames(job_id)}
        missing, broken = [], []
        for frame in files:
            record = records.get(frame)
            if record is None or record["finished"] is None:
                missing.append(frame)
            elif record["check"] not in (None, "ok"):
                broken.append({"frame": frame, "reason": record["check"]})
        return {"frames": len(files), "missing": missing, "broken": broken, "source": FROM_RECORDS}

    @staticmethod
    def frame_of(job: JobRow, path: str, frames: range) -> int | None:
        """Which of a task's `frames` a file that came back is (`path` relative to the
        job's output folder, as the worker sent it); None for a file that is no frame
        of the task (a side output: placed, not checked)."""
        if job["type"] not in RENDER_TYPES:
            return None
        settings = job["settings"]
        pattern = blender_frame_files(settings["render_output"], settings.get("format", "PNG"))
        wanted = posixpath.normpath(path)
        for frame in frames:
            if posixpath.normpath(pattern.removeprefix("//") % frame) == wanted:
                return frame
        return None

    async def check_arrived(self, job: JobRow, frame: int, path: str) -> str | None:
        """A frame file that came back to the manager: checked (on a thread) and its
        verdict kept on the frame's record. Returns the reason it failed, or None."""
        rules = frame_rules(job["type"], job["settings"]) or FrameRules()
        verdict = await asyncio.to_thread(check_frame, path, rules)
        reason = None if verdict.ok else verdict.reason(frame)
        with self._changes.change():
            self._store.set_frame_check(job["id"], frame, path, verdict.bytes, reason or "ok")
        return reason
