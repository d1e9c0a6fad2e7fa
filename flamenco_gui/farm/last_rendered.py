"""A job's latest frames: thumbnails sent by the worker holding the task, kept per job."""

from __future__ import annotations

from typing import Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Invalid, NotFound
from flamenco_gui.farm.events import Change
from flamenco_gui.farm.leases import LeaseStore, leased_task
from flamenco_gui.farm.preview_check import check_preview
from flamenco_gui.rows import PreviewEntry


class PreviewFiles(Protocol):
    def save(self, job_id: int, task_id: int, frame: int, jpeg: bytes) -> PreviewEntry: ...
    def list(self, job_id: int) -> list[PreviewEntry]: ...
    def read(self, job_id: int, frame: int) -> bytes | None: ...
    def delete_job(self, job_id: int) -> None: ...


class LastRendered:
    def __init__(self, store: LeaseStore, files: PreviewFiles, changes: Changes) -> None:
        self._store = store
        self.files = files
        self._changes = changes

    def add(
        self, task_id: int, worker_id: int | None, lease: int | None, frame: int, jpeg: bytes
    ) -> PreviewEntry:
        task = leased_task(self._store, task_id, worker_id, lease, completed_ok=True)
        if task["job_id"] is None:
            raise Invalid("previews are kept per job, and this task has none")
        check_preview(jpeg)
        try:
            entry = self.files.save(task["job_id"], task_id, frame, jpeg)
        except OSError as exc:
            raise self._changes.unwritable("a preview", exc) from exc
        self._changes.bus.publish(Change("preview", task["job_id"], dict(entry)))
        return entry

    def entries(self, job_id: int) -> list[PreviewEntry]:
        return self.files.list(job_id)

    def read(self, job_id: int, frame: int) -> bytes:
        data = self.files.read(job_id, frame)
        if data is None:
            raise NotFound(f"job {job_id} keeps no preview of frame {frame}")
        return data
