"""FarmService: the farm's concerns wired together, and the one door to them.

The window and the HTTP API are adapters over this facade, so a click and a PATCH
from the LAN follow the same code path. It holds no rule of its own: each method hands
over to the concern that owns it (see docs/architecture.md for which is where). It
knows no Qt and no HTTP. Every method runs on the event-loop thread.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from flamenco_gui.farm.blocklist import Blocklist, BlocklistStore
from flamenco_gui.farm.changes import Batch, Changes, Transactions
from flamenco_gui.farm.dispatch import Assignment, Dispatch, DispatchStore
from flamenco_gui.farm.errors import Unavailable
from flamenco_gui.farm.eta import Eta, EtaStore
from flamenco_gui.farm.events import EventBus, Kind
from flamenco_gui.farm.file_store import MANAGER, SHARED, Blobs, FileStore, FileStoreDB
from flamenco_gui.farm.frame_checks import FrameChecks
from flamenco_gui.farm.frames import Frames, FrameStore, frame_rules, to_csv
from flamenco_gui.farm.job_deps import JobDeps, JobDepsStore
from flamenco_gui.farm.jobs import Jobs, JobStore, PreparedJob
from flamenco_gui.farm.last_rendered import LastRendered, PreviewFiles
from flamenco_gui.farm.log_notes import LogNotes
from flamenco_gui.farm.retries import Retries
from flamenco_gui.farm.schedules import Schedules, ScheduleStore
from flamenco_gui.farm.settings import FarmConfig, FarmSettings, SettingsStore
from flamenco_gui.farm.states import TaskStatus, WorkerReport
from flamenco_gui.farm.statistics import Statistics
from flamenco_gui.farm.task_logs import LogFiles, TaskLogs, TaskLogStore
from flamenco_gui.farm.task_state_machine import StateStore, TaskStateMachine
from flamenco_gui.farm.tasks import Tasks, TaskStore
from flamenco_gui.farm.timeouts import TimeoutChecker, TimeoutStore
from flamenco_gui.farm.wake_on_lan import WakeOnLan
from flamenco_gui.farm.wakeups import Wakeups
from flamenco_gui.farm.worker_control import ControlStore, WorkerControl
from flamenco_gui.farm.worker_updates import BuildCatalogue, NoBuilds, Offers, WorkerUpdates
from flamenco_gui.farm.workers import Workers, WorkerStore
from flamenco_gui.rows import (
    BlocklistRow,
    FarmHistoryRow,
    FrameRecordRow,
    HistoryRow,
    JobView,
    PreviewEntry,
    TaskRow,
    TaskState,
    WorkerRow,
)

__all__ = ["FarmConfig", "FarmService"]
CSV_PAGE = 5000  # frame records read per loop turn for a CSV export
LIVE_JOBS_SUMMED = 1000  # the newest jobs the history by day sums up beside deleted ones


class FarmStore(
    StateStore,
    DispatchStore,
    WorkerStore,
    TimeoutStore,
    BlocklistStore,
    TaskStore,
    TaskLogStore,
    JobStore,
    JobDepsStore,
    ControlStore,
    ScheduleStore,
    SettingsStore,
    FileStoreDB,
    FrameStore,
    EtaStore,
    Protocol,
):
    """Everything the farm's concerns ask of the store (store/db.py's Store is one)."""

    @property
    def uow(self) -> Transactions: ...


class _Files:
    """Logs and previews of a job being deleted (run on a thread)."""

    def __init__(self, logs: LogFiles, previews: PreviewFiles) -> None:
        self._logs = logs
        self._previews = previews

    def delete_logs(self, task_ids: Sequence[int]) -> None:
        for task_id in task_ids:
            self._logs.delete(task_id)

    def delete_previews(self, job_id: int) -> None:
        self._previews.delete_job(job_id)


class FarmService:
    def __init__(
        self,
        store: FarmStore,
        logs: LogFiles,
        previews: PreviewFiles,
        config: FarmConfig | None = None,
        catalogue: BuildCatalogue | None = None,
        files: tuple[Blobs, Path] | None = None,
    ) -> None:
        """`catalogue`: the builds offered for workers to update themselves with;
        `files`: the file store of `manager` storage and the output root frames land in
        (none: only `shared` jobs)."""
        self.store = store
        self.config = config or FarmConfig()
        self.events = EventBus()
        self.wakeups = Wakeups()
        self.changes = Changes(store.uow, self.events, self._load)
        notes = LogNotes(logs, self._worker_name)
        self.states = TaskStateMachine(store, self.changes, self.wakeups, notes=notes)
        self.farm_settings = FarmSettings(store, self.changes, self.config)
        self.blocklist = Blocklist(store, self.states, lambda: self.config.blocklist_threshold)
        self.retries = Retries(self.states, self.blocklist, lambda: self.config.max_attempts)
        self.workers = Workers(store, self.changes, self.states, self.wakeups)
        self.updates = WorkerUpdates(store, catalogue or NoBuilds(), self.wakeups)
        self.dispatch = Dispatch(
            store,
            self.changes,
            self.states,
            self.workers,
            self.wakeups,
            self.config,
            update_pending=self.updates.pending,
            control=self._control_state,
            on_schedule=lambda worker_id: self.schedules.allows(worker_id),
        )
        self.timeouts = TimeoutChecker(
            store, self.changes, self.workers, self.retries, self.wakeups, self.config
        )
        self.eta = Eta(store)
        self.frames = Frames(store, self.eta.forget)
        self.frame_checks = FrameChecks(store, self.changes)
        self.statistics = Statistics(self.frames, self._live_summaries)
        self.tasks = Tasks(
            store,
            self.changes,
            self.states,
            self.retries,
            self.farm_settings,
            logs,
            self.wakeups,
            self.frames,
        )
        self.tasks.before_completion = self._require_frames
        self.task_logs = TaskLogs(store, logs, self.changes, headed=notes.headed)
        self.last_rendered = LastRendered(store, previews, self.changes)
        self.job_deps = JobDeps(store, self.changes, self.wakeups)
        self.states.on_job_status = self.job_deps.parent_moved
        self.jobs = Jobs(
            store,
            self.changes,
            self.states,
            self.farm_settings,
            self.wakeups,
            _Files(logs, previews),
            self.job_deps,
            self.frames,
            self.eta,
        )
        self.control = WorkerControl(store, self.changes, self.workers, self.wakeups)
        self.schedules = Schedules(store, self.changes, self.workers, self.wakeups)
        self.wake_on_lan = WakeOnLan(store, self.workers, self.config)
        self.file_store = (
            FileStore(
                store,
                files[0],
                files[1],
                lambda: self.config.unreferenced_files_grace,
                self.changes,
                self.frame_checks,
            )
            if files is not None
            else None
        )
        self.jobs.finish_after_start()
        self.workers.refresh_after_start()
        under_way = []
        for task in store.hung_tasks(math.inf):  # every rendering task
            row, worker_id = store.get_task(task["id"]), task["worker_id"]
            if row is not None and worker_id is not None:
                under_way.append((task["id"], worker_id, task["lease"], row["started"] or 0.0))
        notes.under_way_after_start(under_way)

    def _worker_name(self, worker_id: int) -> str | None:
        row = self.store.get_worker(worker_id)
        return row["hostname"] if row is not None else None

    def _control_state(self, worker_id: int) -> str | None:
        control = self.control.pending(worker_id)
        return None if control is None else str(control["state"])

    def _load(self, kind: Kind, row_id: int) -> Any:
        """An object's committed state, read once per transaction that changed it."""
        if kind == "task":
            return self.store.get_task(row_id)
        if kind == "worker":
            row = self.store.get_worker(row_id)
            return None if row is None else self.schedules.decorate(row)
        return self.jobs.load(row_id)

    # -- commits -----------------------------------------------------------------------

    @property
    def storage_error(self) -> str | None:
        return self.changes.storage_error

    def batch(self) -> Batch:
        return self.changes.batch()

    def flush(self) -> None:
        self.changes.flush()

    # -- settings ----------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return self.farm_settings.values()

    def update_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        return self.farm_settings.update(values)

    def path_variables(self) -> dict[str, dict[str, str]]:
        return self.farm_settings.path_variables()

    def set_path_variables(self, variables: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return self.farm_settings.set_path_variables(variables)

    # -- workers -----------------------------------------------------------------------

    def register_worker(
        self, hostname: str, system: str, ip_address: str | None = None, **details: Any
    ) -> tuple[WorkerRow, str]:
        details.setdefault("window", self.config.worker_timeout)
        return self.workers.register(hostname, system, ip_address, **details)

    def check_new_identity(self, uuid: str | None) -> None:
        """Raises Forbidden when `uuid` is already a worker's (a pairing must not spend
        its code on it)."""
        self.workers.check_new(uuid)

    def authenticate_worker(self, secret: str) -> int | None:
        return self.workers.authenticate(secret)

    def worker_secret_hash(self, worker_id: int) -> str | None:
        row = self.workers.find(worker_id)
        return row["secret_hash"] if row else None

    def get_worker(self, worker_id: int) -> WorkerRow:
        return self.schedules.decorate(self.workers.get(worker_id))

    def list_workers(self) -> list[WorkerRow]:
        return [self.schedules.decorate(w) for w in self.workers.all()]

    def set_worker_schedule(self, worker_id: int, schedule: dict[str, Any] | None) -> WorkerRow:
        return self.schedules.set(worker_id, schedule)

    async def run_schedules(self) -> None:
        await self.schedules.run()

    def set_worker_enabled(self, worker_id: int, enabled: bool) -> WorkerRow:
        return self.workers.set_enabled(worker_id, enabled)

    def set_worker_tags(self, worker_id: int, tags: Sequence[str]) -> WorkerRow:
        return self.workers.set_tags(worker_id, tags)

    def control_worker(self, worker_id: int, action: str, when: str) -> WorkerRow:
        return self.control.request(worker_id, action, when)

    def worker_control(self, worker_id: int) -> dict[str, Any] | None:
        return self.control.pending(worker_id)

    def acknowledge_control(self, worker_id: int, control_id: int, state: str) -> None:
        self.control.acknowledge(worker_id, control_id, state)

    def forget_worker(self, worker_id: int) -> None:
        self.workers.forget(worker_id)
        self.control.forget(worker_id)

    def report_worker_version(
        self,
        worker_id: int,
        version: str,
        platform: str,
        arch: str,
        frozen: bool,
        sha256: str | None,
    ) -> WorkerRow:
        return self.workers.report_version(worker_id, version, platform, arch, frozen, sha256)

    async def worker_versions(self) -> dict[int, dict[str, Any]]:
        return await self.updates.versions()

    async def offered_versions(self) -> Offers:
        return await self.updates.offers()

    async def request_worker_updates(self) -> list[int]:
        return await self.updates.request_all()

    def take_update_request(self, worker_id: int) -> bool:
        return self.updates.take(worker_id)

    async def worker_report(
        self, worker_id: int, status: WorkerReport, **report: Any
    ) -> Assignment:
        self.workers.claim_node(worker_id, report.pop("node", None), self.config.worker_timeout)
        return await self.dispatch.report(worker_id, status, **report)

    def begin_pull(self, worker_id: int) -> None:
        """See `Dispatch.begin_pull`: concurrent pulls of one worker get one task."""
        self.dispatch.begin_pull(worker_id)

    def end_pull(self, worker_id: int) -> None:
        self.dispatch.end_pull(worker_id)

    def release_claim(self, worker_id: int, task_id: int, lease: int, reason: str) -> None:
        """A pull's task that never reached the worker goes back to the queue now."""
        self.dispatch.release(worker_id, task_id, lease, reason)

    def check_timeouts(self) -> None:
        self.timeouts.check()

    async def run_timeouts(self) -> None:
        await self.timeouts.run()

    # -- tasks -------------------------------------------------------------------------

    def get_task(self, task_id: int) -> TaskRow:
        return self.tasks.get(task_id)

    def list_tasks(self, **filters: Any) -> tuple[list[TaskRow], int]:
        return self.tasks.page(**filters)

    def task_dependencies(self, task_id: int) -> list[int]:
        return self.tasks.dependencies(task_id)

    def task_history(self, task_id: int) -> list[HistoryRow]:
        return self.tasks.history(task_id)

    def commands_for(self, task: TaskRow, worker_id: int) -> list[list[str]]:
        return self.tasks.commands_for(task, self.workers.get(worker_id)["system"])

    def create_task(self, **task: Any) -> TaskRow:
        return self.tasks.create(**task)

    def update_task(self, task_id: int, fields: dict[str, Any], worker_id: int | None) -> None:
        self.tasks.update(task_id, fields, worker_id)

    def set_task_status(
        self, task_id: int, status: TaskStatus, reason: str = "by the wrangler"
    ) -> TaskRow:
        return self.tasks.set_status(task_id, status, reason)

    def delete_task(self, task_id: int) -> None:
        self.tasks.delete(task_id)

    def append_log(
        self,
        task_id: int,
        lines: list[str],
        worker_id: int | None,
        lease: int | None,
        seq: int | None = None,
    ) -> None:
        self.task_logs.append(task_id, lines, worker_id, lease, seq)

    def read_log(self, task_id: int, **how: Any) -> tuple[bytes, int]:
        return self.task_logs.read(task_id, **how)

    # -- previews ----------------------------------------------------------------------

    def add_preview(
        self, task_id: int, worker_id: int | None, lease: int | None, frame: int, jpeg: bytes
    ) -> PreviewEntry:
        return self.last_rendered.add(task_id, worker_id, lease, frame, jpeg)

    def job_previews(self, job_id: int) -> list[PreviewEntry]:
        self.jobs.get(job_id)
        return self.last_rendered.entries(job_id)

    def job_preview(self, job_id: int, frame: int) -> bytes:
        self.jobs.get(job_id)
        return self.last_rendered.read(job_id, frame)

    # -- jobs --------------------------------------------------------------------------

    def prepare_job(self, **job: Any) -> PreparedJob:
        return self.jobs.prepare(**job)

    def commit_job(self, prepared: PreparedJob) -> JobView:
        return self.jobs.commit(prepared)

    def create_job(self, **job: Any) -> JobView:
        return self.jobs.create(**job)

    async def submit_job(self, **job: Any) -> JobView:
        if job.get("storage") == MANAGER:
            await self.files().require_stored(job.get("files") or ())
        view = self._with_output(await self.jobs.submit(**job))
        self.wake_on_lan.job_queued(view.get("tags") or [])
        return view

    def wake_worker(self, worker_id: int) -> list[str]:
        return self.wake_on_lan.wake(worker_id)

    def _with_output(self, view: JobView) -> JobView:
        """A manager job's answer names the folder its frames land in (`output`)."""
        if view.get("storage") == MANAGER and self.file_store is not None:
            cast(dict[str, Any], view)["output"] = str(self.file_store.output_dir(view))
        return view

    def _require_frames(self, task: TaskState) -> None:
        """A manager job's task completes only with its frames on the manager."""
        if self.file_store is not None:
            self.file_store.require_frames(task)

    def job_storage(self, job_id: int | None) -> str:
        """A job's storage mode ('shared' for a task of no job, as the 2015 ones)."""
        job = self.store.get_job(job_id) if job_id is not None else None
        return (job.get("storage") if job else None) or SHARED

    def files(self) -> FileStore:
        """The file store of `manager` storage (farm/file_store.py)."""
        if self.file_store is None:
            raise Unavailable("this manager keeps no files: only 'shared' storage")
        return self.file_store

    def get_job(self, job_id: int) -> JobView:
        return self._with_output(self.jobs.get(job_id))

    def list_jobs(self, **filters: Any) -> tuple[list[JobView], int]:
        return self.jobs.page(**filters)

    async def job_action(self, job_id: int, action: str) -> JobView:
        return await self.jobs.action(job_id, action)

    async def set_job_priority(self, job_id: int, priority: int) -> JobView:
        return await self.jobs.set_priority(job_id, priority)

    async def delete_job(self, job_id: int) -> None:
        await self.jobs.delete(job_id)

    def worker_blocklists(self, worker_id: int) -> list[BlocklistRow]:
        self.workers.get(worker_id)
        return self.blocklist.of_worker(worker_id)

    # -- frames ------------------------------------------------------------------------

    def job_frames(
        self, job_id: int, limit: int = 10_000, offset: int = 0
    ) -> tuple[list[FrameRecordRow], int]:
        self.jobs.get(job_id)
        return self.frames.page(job_id, limit, offset)

    async def job_frames_csv(self, job_id: int) -> str:
        """Every record as CSV, read a page at a time, formatted on a thread."""
        self.jobs.get(job_id)
        rows: list[FrameRecordRow] = []
        while page := self.frames.page(job_id, CSV_PAGE, len(rows))[0]:
            rows += page
            await asyncio.sleep(0)
        return await asyncio.to_thread(to_csv, rows)

    def job_attempts(self, job_id: int) -> list[dict[str, Any]]:
        self.jobs.get(job_id)
        return self.frames.attempts(job_id)

    def frame_rules_for(self, task: TaskRow) -> dict[str, Any] | None:
        """What the worker checks the task's frames against (None: not a frame task)."""
        if task["job_id"] is None or task["parser"] != "blender_render":
            return None
        job = self.jobs.get(task["job_id"])
        rules = frame_rules(job["type"], job["settings"])
        return None if rules is None else rules.as_dict()

    async def check_frames(self, job_id: int) -> dict[str, Any]:
        return await self.frame_checks.check(self.jobs.get(job_id))

    async def rerender(self, job_id: int, frames: Sequence[int] | None = None) -> JobView:
        """Render `frames` again (default: the ones "Check frames" finds missing or broken)."""
        if frames is None:
            found = await self.check_frames(job_id)
            frames = [*found["missing"], *(b["frame"] for b in found["broken"])]
        return await self.jobs.rerender(job_id, frames)

    def farm_history(self, since: float) -> list[FarmHistoryRow]:
        return self.frames.history(since)

    async def _live_summaries(self) -> list[dict[str, Any]]:
        jobs, _ = self.store.list_jobs(None, LIVE_JOBS_SUMMED, 0)
        return await self.frames.live_summaries(jobs)

    async def worker_statistics(self, days: float) -> list[dict[str, Any]]:
        """Per day and worker: frames, busy hours, frames an hour, failures."""
        return await self.statistics.workers(days)

    async def utilisation(self, days: float) -> list[dict[str, Any]]:
        """The farm's busy node-hours in each hour of the last `days`."""
        return await self.statistics.utilisation(days)

    async def history_by_day(self, days: float) -> list[dict[str, Any]]:
        """Jobs, frames and node-hours a day, deleted jobs included."""
        return await self.statistics.history(days)

    def job_blocklist(self, job_id: int) -> list[BlocklistRow]:
        self.jobs.get(job_id)
        return self.blocklist.entries(job_id)

    def clear_blocklist(self, job_id: int, worker_id: int | None = None) -> list[BlocklistRow]:
        self.jobs.get(job_id)
        with self.changes.change():
            self.blocklist.clear(job_id, worker_id)
        self.wakeups.queued()
        return self.blocklist.entries(job_id)
