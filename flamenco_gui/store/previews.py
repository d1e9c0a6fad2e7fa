"""The latest rendered frames of each job, as small JPEGs beside the database.

Only the newest few per job are kept: they are for catching a broken shot after its
first frames, not an archive (the frames themselves are on the studio's storage).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from flamenco_gui.rows import PreviewEntry

KEEP_PER_JOB = 12
_NAME = re.compile(r"^frame_(-?\d+)_task_(\d+)\.jpg$")


def _numbers(name: str) -> tuple[int, int]:
    match = _NAME.match(name)
    assert match is not None
    return int(match[1]), int(match[2])


class Previews:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.remove_temp_files()

    def remove_temp_files(self) -> None:
        """A write cut short by a crash left a `.tmp`: nothing reads it, so it goes."""
        if self.root.is_dir():
            for tmp in self.root.glob("job-*/*.tmp"):
                tmp.unlink(missing_ok=True)

    def _dir(self, job_id: int) -> Path:
        return self.root / f"job-{job_id}"

    def save(self, job_id: int, task_id: int, frame: int, jpeg: bytes) -> PreviewEntry:
        folder = self._dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"frame_{frame}_task_{task_id}.jpg"
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_bytes(jpeg)
            os.replace(tmp, path)  # a reader never sees half a picture
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk leaves nothing behind
            raise
        for old in self._files(job_id)[:-KEEP_PER_JOB]:
            old.unlink(missing_ok=True)
        return self._entry(path)

    def _files(self, job_id: int) -> list[Path]:
        """Oldest first."""
        folder = self._dir(job_id)
        if not folder.is_dir():
            return []
        files = [p for p in folder.iterdir() if _NAME.match(p.name)]
        # File times tick coarsely (a few ms): within one tick the higher frame is the
        # newer one, compared as numbers (frame_10 after frame_4, unlike their names).
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, *_numbers(p.name)))

    @staticmethod
    def _entry(path: Path) -> PreviewEntry:
        match = _NAME.match(path.name)
        assert match is not None
        stat = path.stat()
        return {"frame": int(match[1]), "task_id": int(match[2]), "size": stat.st_size,
                "time": stat.st_mtime}  # fmt: skip

    def list(self, job_id: int) -> list[PreviewEntry]:
        return [self._entry(p) for p in self._files(job_id)]

    def read(self, job_id: int, frame: int) -> bytes | None:
        """The newest preview of `frame`, if it is still kept."""
        for path in reversed(self._files(job_id)):
            if self._entry(path)["frame"] == frame:
                return path.read_bytes()
        return None

    def delete_job(self, job_id: int) -> None:
        for path in self._files(job_id):
            path.unlink(missing_ok=True)
