"""FarmService: every rule of the farm in one place.

The window and the HTTP API are adapters over this one class, so a click and a PATCH
from the LAN follow the same code path. It knows no Qt and no HTTP. All of its methods
run on the event-loop thread; each change is one short SQLite transaction, committed
before the method returns, or, inside an API request's `batch()`, a savepoint of a
group transaction committed a loop turn later, before the request answers (so an
adapter's 2xx always means "on disk"). Changes are published on the event bus after
their commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from flamenco_gui.compilers import chunk_frames, compiler_names, get_compiler
from flamenco_gui.farm import path_variables
from flamenco_gui.farm.errors import Conflict, Invalid, NotFound, Unavailable
from flamenco_gui.farm.events import Change, EventBus, Kind
from flamenco_gui.farm.preview_check import check_preview
from flamenco_gui.farm.states import (
    FINISHED,
    Connection,
    TaskStatus,
    WorkerReport,
    WorkerStatus,
    can_transition,
    job_status,
)
from flamenco_gui.store.db import Row, Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.task_logs import TaskLogs

log = logging.getLogger(__name__)

# A poll held longer than this refreshes the worker's last_seen when it answers.
HEARTBEAT_GRACE = 1.0
_LOAD = object()  # an event whose row is read after the commit (see FarmService._emit)
T = TaskStatus
MAX_TASKS_PER_JOB = 100_000
PATH_VARIABLES = "path_variables"  # the settings key
INSERT_CHUNK = 1000  # tasks per transaction when a big job is inserted


class Batch:
    """The group commits one API request waits for before it answers."""

    __slots__ = ("_futures",)

    def __init__(self) -> None:
        self._futures: list[asyncio.Future[None]] = []

    def waits_for(self, fut: asyncio.Future[None]) -> None:
        if fut not in self._futures:
            self._futures.append(fut)

    async def committed(self) -> None:
        """Return once every change made in this batch is committed; raise if one
        could not be (Unavailable: the disk)."""
        for fut in self._futures:
            await fut


_BATCH: ContextVar[Batch | None] = ContextVar("farm_batch", default=None)


@dataclass(slots=True)
class FarmConfig:
    worker_timeout: float = 60.0
    task_timeout: float = 600.0
    max_attempts: int = 3
    blocklist_threshold: int = 3  # failed tasks of one job that keep a worker off it
    max_wait: float = 25.0  # longest a long poll is held (also capped at worker_timeout/2)

    def update(self, values: dict[str, Any]) -> None:
        """Apply validated settings (see SETTING_LIMITS)."""
        for key, value in values.items():
            low, high, kind = SETTING_LIMITS[key]
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise Invalid(f"{key}: must be a number")
            if not low <= value <= high:
                raise Invalid(f"{key}: must be between {low:g} and {high:g}")
            setattr(self, key, kind(value))


# The settings a wrangler may change while the farm runs: (lowest, highest, type).
SETTING_LIMITS: dict[str, tuple[float, float, type]] = {
    "worker_timeout": (1, 86_400, float),
    "task_timeout": (1, 7 * 86_400, float),
    "max_attempts": (1, 100, int),
    "blocklist_threshold": (1, 1000, int),
}


@dataclass(frozen=True, slots=True)
class PreparedJob:
    """A validated, compiled job, ready to insert."""

    job: Row
    tasks: list[Row]
    task_columns: list[str]
    task_values: list[tuple[Any, ...]]
    # task index -> indexes of the tasks it waits for (always earlier in `tasks`)
    deps: dict[int, range]


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _field_error(exc: ValidationError, prefix: str = "") -> Invalid:
    """Turn pydantic's report into one message that names the offending field."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{loc or prefix or 'body'}: {err['msg']}")
    return Invalid("; ".join(parts))


def _now() -> float:
    return time.time()


class FarmService:
    def __init__(
        self,
        store: Store,
        logs: TaskLogs,
        config: FarmConfig | None = None,
        previews: Previews | None = None,
    ) -> None:
        self.store = store
        self.logs = logs
        self.previews = previews or Previews(logs.root.parent / "previews")
        self.config = config or FarmConfig()
        self.events = EventBus()
        self._secrets = store.worker_secret_hashes()
        # Changes of the open transaction, one entry per object (its latest state wins).
        self._pending: dict[tuple[Kind, int], Row | object | None] = {}
        # The group transaction's changes and the future its requests wait on.
        self._group_pending: dict[tuple[Kind, int], Row | object | None] = {}
        self._group_done: asyncio.Future[None] | None = None
        self._queued = asyncio.Event()  # set (and replaced) whenever work is queued
        self._lease_watch: dict[int, asyncio.Event] = {}
        self._polling: dict[int, int] = {}  # worker id -> open long polls (it is alive)
        self.storage_error: str | None = None  # why the data dir cannot be written, if so
        self._path_vars: dict[str, dict[str, str]] = store.get_setting(PATH_VARIABLES) or {}
        self._reconcile_after_start()

    # -- plumbing --------------------------------------------------------------------

    @contextmanager
    def _change(self) -> Iterator[None]:
        """One transaction; its changes are published only once it has committed.

        Inside a `batch()` (an API request) the change joins the group transaction and
        is committed with its neighbours by `flush()`, one loop turn later; the request
        is answered after that commit, so a 2xx still means "on disk".
        """
        batch = _BATCH.get()
        if batch is None and self.store.group_open and not self.store.in_transaction:
            self.flush()  # a plain change after grouped ones: theirs commit first
        try:
            with self.store.tx(group=batch is not None):
                yield
        except sqlite3.OperationalError as exc:
            self._pending.clear()
            error = self._storage_failure(exc)
            if self._group_done is not None and not self.store.group_open:
                self._abandon_group(error)  # the whole group was rolled back
            if error is exc:
                raise
            raise error from exc
        except BaseException:
            self._pending.clear()
            raise
        if self.store.in_transaction:
            return  # a nested change: the outer one publishes after its commit
        pending, self._pending = self._pending, {}
        if batch is not None and self.store.group_open:
            self._group_pending.update(pending)
            batch.waits_for(self._group_future())
            return
        if self.storage_error is not None:
            self._set_storage_error(None)
        self._publish(pending)

    def _storage_failure(self, exc: sqlite3.OperationalError) -> Exception:
        """A write that failed because of the disk: 503, and the window says why."""
        msg = str(exc)
        if any(w in msg for w in ("full", "readonly", "unable to open", "disk I/O")):
            self._set_storage_error(f"the data dir cannot be written: {msg}")
            return Unavailable(self.storage_error or msg)
        return exc

    def batch(self) -> Batch:
        """Group the changes of the calling task (an API request) with their neighbours';
        `await batch.committed()` before answering."""
        batch = Batch()
        _BATCH.set(batch)
        return batch

    def _group_future(self) -> asyncio.Future[None]:
        if self._group_done is None:
            loop = asyncio.get_running_loop()
            self._group_done = loop.create_future()
            loop.call_soon(self.flush)
        return self._group_done

    def flush(self) -> None:
        """Commit the grouped changes, answer who waits for them, publish them."""
        done, self._group_done = self._group_done, None
        pending, self._group_pending = self._group_pending, {}
        try:
            self.store.commit_group()
        except sqlite3.OperationalError as exc:
            if done is not None:
                self._group_done = done
                self._abandon_group(self._storage_failure(exc))
            return
        if done is not None and not done.done():
            done.set_result(None)
        if self.storage_error is not None:
            self._set_storage_error(None)
        self._publish(pending)

    def _abandon_group(self, error: Exception) -> None:
        """The group transaction was rolled back: its changes are lost, say so to their
        requests (which answer 503) and publish nothing of them."""
        done, self._group_done = self._group_done, None
        self._group_pending = {}
        if done is not None and not done.done():
            done.set_exception(error)
            done.exception()  # logged once as the storage error, not per waiter

    def _publish(self, pending: dict[tuple[Kind, int], Row | object | None]) -> None:
        if not self.events.active:
            return  # nobody listens (headless, no SSE client): no rows to read
        for (kind, row_id), row in pending.items():
            if row is _LOAD:
                row = self._load(kind, row_id)
            self.events.publish(Change(kind, row_id, row))  # type: ignore[arg-type]

    def _load(self, kind: Kind, row_id: int) -> Row | None:
        """An object's committed state, read once per transaction that changed it."""
        if kind == "task":
            return self.store.get_task(row_id)
        if kind == "worker":
            return self.store.get_worker(row_id)
        job = self.store.get_job(row_id)
        return None if job is None else self._job_view(job)

    # -- settings --------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {key: getattr(self.config, key) for key in SETTING_LIMITS}

    def update_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        """Change farm settings at once and keep them for the next start."""
        unknown = set(values) - set(SETTING_LIMITS)
        if unknown:
            raise Invalid(
                f"{sorted(unknown)[0]}: unknown setting; known: {', '.join(SETTING_LIMITS)}"
            )
        trial = FarmConfig(**{**self.settings(), "max_wait": self.config.max_wait})
        trial.update(values)  # validates everything before anything changes
        with self._change():
            for key, value in values.items():
                self.store.set_setting(key, value)
        self.config.update(values)
        self.events.publish(Change("farm", 0, {"settings": self.settings()}))
        return self.settings()

    # -- path variables --------------------------------------------------------------

    def path_variables(self) -> dict[str, dict[str, str]]:
        return self._path_vars

    def set_path_variables(self, variables: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        """Replace the farm's path variables; they apply to jobs submitted from now on."""
        try:
            path_variables.validate(variables)
        except ValueError as exc:
            raise Invalid(f"path variables: {exc}") from exc
        with self._change():
            self.store.set_setting(PATH_VARIABLES, variables)
        self._path_vars = variables  # replaced whole: prepare_job may read it on a thread
        self.events.publish(Change("farm", 0, {"path_variables": variables}))
        return variables

    def _with_variables(self, commands: list[list[str]]) -> list[list[str]]:
        if not self._path_vars:
            return commands
        return [
            [path_variables.to_variables(a, self._path_vars) for a in argv] for argv in commands
        ]

    def commands_for(self, task: Row, worker_id: int) -> list[list[str]]:
        """A task's commands with its paths in the form the worker's platform uses."""
        worker = self.get_worker(worker_id)
        platform = path_variables.platform_of(worker["system"])
        return [
            [path_variables.resolve(a, self._path_vars, platform) for a in argv]
            for argv in task["commands"] or []
        ]

    def _set_storage_error(self, error: str | None) -> None:
        """Tell the window (and /health) that writes fail, or work again."""
        self.storage_error = error
        if error:
            log.error("%s", error)
        self.events.publish(Change("farm", 0, {"storage_error": error}))

    def _emit(self, kind: Kind, row_id: int, row: Row | object | None = None) -> None:
        """Publish `row` (None: deleted; _LOAD: read it after the commit) once the
        transaction commits."""
        self._pending[(kind, row_id)] = row

    def _signal_queued(self) -> None:
        self._queued.set()
        self._queued = asyncio.Event()

    def _signal_lease(self, worker_id: int | None) -> None:
        if worker_id is not None and (ev := self._lease_watch.pop(worker_id, None)):
            ev.set()

    def _reconcile_after_start(self) -> None:
        """Give every worker a fresh timeout window after a manager restart.

        Their leases stay: a worker that comes back within worker_timeout goes on with
        its task and reports it; one that does not is timed out by the usual rule.
        """
        now = _now()
        with self._change():
            for job_id in self.store.incomplete_jobs():
                log.warning("removing job %s: its submission was cut short", job_id)
                self.store.delete_job(job_id)
            for w in self.store.list_workers():
                if w["connection"] == Connection.ONLINE:
                    self.store.update_worker(w["id"], {"last_seen": now})

    # -- workers ---------------------------------------------------------------------

    def register_worker(
        self,
        hostname: str,
        system: str,
        ip_address: str | None = None,
        **details: Any,
    ) -> tuple[Row, str]:
        """Register (or re-register) a worker; returns its row and its new secret."""
        secret = secrets.token_urlsafe(32)
        digest = _hash_secret(secret)
        now = _now()
        fields = {
            "system": system,
            "ip_address": ip_address,
            "secret_hash": digest,
            "connection": Connection.ONLINE.value,
            "last_seen": now,
            **{k: v for k, v in details.items() if v is not None},
        }
        with self._change():
            existing = self.store.worker_by_hostname(hostname)
            if existing:
                worker_id = existing["id"]
                self._secrets.pop(existing["secret_hash"] or "", None)
                self.store.update_worker(worker_id, fields)
            else:
                worker_id = self.store.insert_worker(
                    {
                        "hostname": hostname,
                        "status": WorkerStatus.ENABLED.value,
                        "created": now,
                        **fields,
                    }
                )
            self._secrets[digest] = worker_id
            self._worker_changed(worker_id)
        return self.get_worker(worker_id), secret

    def authenticate_worker(self, secret: str) -> int | None:
        return self._secrets.get(_hash_secret(secret))

    def get_worker(self, worker_id: int) -> Row:
        row = self.store.get_worker(worker_id)
        if row is None:
            raise NotFound(f"worker {worker_id} does not exist")
        return row

    def list_workers(self) -> list[Row]:
        return self.store.list_workers()

    def _worker_changed(self, worker_id: int) -> None:
        self._emit("worker", worker_id, _LOAD)

    def set_worker_enabled(self, worker_id: int, enabled: bool) -> Row:
        """Disabling keeps a running task going; the worker just gets no new ones."""
        self.get_worker(worker_id)
        status = WorkerStatus.ENABLED if enabled else WorkerStatus.DISABLED
        with self._change():
            self.store.update_worker(worker_id, {"status": status.value})
            self._worker_changed(worker_id)
        if enabled:
            self._signal_queued()
        return self.get_worker(worker_id)

    def forget_worker(self, worker_id: int) -> None:
        worker = self.get_worker(worker_id)
        with self._change():
            self._requeue_leased(worker_id, "worker was removed from the farm")
            self.store.delete_worker(worker_id)
            self._emit("worker", worker_id, None)
        self._secrets.pop(worker["secret_hash"] or "", None)
        self._signal_lease(worker_id)
        self._signal_queued()  # its held poll, if any, ends now

    @staticmethod
    def _report_fields(report: dict[str, Any]) -> Row:
        """What a worker's report changes on its row: alive now, and its machine."""
        fields: Row = {"last_seen": _now(), "connection": Connection.ONLINE.value}
        for key in ("update_frequent", "update_less_frequent", "mac_address", "ip_address"):
            if report.get(key) is not None:
                fields[key] = report[key]
        return fields

    def _touch(self, worker_id: int, report: dict[str, Any]) -> None:
        if not self.store.update_worker(worker_id, self._report_fields(report)):
            raise NotFound(f"worker {worker_id} does not exist")

    async def worker_report(
        self,
        worker_id: int,
        status: WorkerReport,
        *,
        task_id: int | None = None,
        wait: float = 0.0,
        **report: Any,
    ) -> tuple[int | None, int | None]:
        """The 2015 pull, plus a watch: answers (task the worker should run, its lease).

        `available`: hand out the next task, holding the answer up to `wait` seconds
        until one is queued. `rendering`: confirm the worker's lease on `task_id`,
        holding the answer until the lease changes. `offline`: the worker is leaving.
        """
        wait = max(0.0, min(wait, self.config.max_wait, self.config.worker_timeout / 2))
        claimed: Row | None = None
        with self._change():
            if status == WorkerReport.AVAILABLE:
                worker = self.store.worker_state(worker_id)
                if worker is None:
                    raise NotFound(f"worker {worker_id} does not exist")
                self._requeue_leased(worker_id, "worker reported it runs nothing")
                # Work waiting: claimed in the report's transaction, and the report's
                # fields written with the claim's in one UPDATE of the worker.
                claimed = self._claim(worker, self._report_fields(report))
                if claimed is None:
                    self._touch(worker_id, report)
            else:
                self._touch(worker_id, report)
            if status == WorkerReport.OFFLINE:
                self._requeue_leased(worker_id, "worker signed off")
                self.store.update_worker(
                    worker_id,
                    {
                        "connection": Connection.OFFLINE.value,
                        "activity": None,
                        "current_task": None,
                    },
                )
            self._worker_changed(worker_id)
        if claimed is not None:
            return claimed["id"], claimed["lease"]
        if status == WorkerReport.OFFLINE:
            self._signal_queued()  # its held poll, if any, ends now
            return None, None
        began = time.monotonic()
        deadline = began + wait
        self._polling[worker_id] = self._polling.get(worker_id, 0) + 1
        try:
            if status == WorkerReport.RENDERING:
                answer = await self._watch_lease(worker_id, task_id, deadline)
            else:
                answer = await self._pull(worker_id, deadline)
        finally:
            self._polling[worker_id] -= 1
            if not self._polling[worker_id]:
                del self._polling[worker_id]
        # A held poll that ran its course counts as a heartbeat; one cut short by a
        # disconnect or shutdown does not (the store may already be closing). One that
        # answered at once needs none: the report above was one.
        if wait and time.monotonic() - began > HEARTBEAT_GRACE:
            with self._change():
                self.store.update_worker(worker_id, {"last_seen": _now()})
        return answer

    async def _watch_lease(
        self, worker_id: int, task_id: int | None, deadline: float
    ) -> tuple[int | None, int | None]:
        while True:
            leased = self.store.tasks_leased_to(worker_id)
            held = next((t for t in leased if t["id"] == task_id), None)
            if held is None:
                return None, None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return held["id"], held["lease"]
            ev = self._lease_watch.setdefault(worker_id, asyncio.Event())
            with suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), remaining)

    async def _pull(self, worker_id: int, deadline: float) -> tuple[int | None, int | None]:
        """Hold the pull until work is queued. The report has just tried to claim (with
        no await since), so it waits first rather than ask the same question again."""
        while True:
            ev = self._queued
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, None
            try:
                await asyncio.wait_for(ev.wait(), remaining)
            except TimeoutError:
                return None, None
            worker = self.store.worker_state(worker_id)
            if worker is None or worker["connection"] != Connection.ONLINE:
                # Forgotten, or it said goodbye while this poll was held: a task handed
                # out now would sit on a worker that will never run it.
                return None, None
            task = self._claim(worker)
            if task is not None:
                return task["id"], task["lease"]

    def _claim(self, worker: Row, report: Row | None = None) -> Row | None:
        """The worker's next task, leased to it; `report` fields join its row's update."""
        if worker["status"] != WorkerStatus.ENABLED:
            return None
        worker_id = worker["id"]
        with self._change():
            task = self.store.next_queued_task(worker_id)
            if task is None:
                return None
            now = _now()
            lease = task["lease"] + 1
            self.store.update_task(
                task["id"],
                {
                    "status": T.RENDERING.value,
                    "worker_id": worker_id,
                    "lease": lease,
                    "started": now,
                    "updated": now,
                    "last_progress": now,
                    "frame_current": task["frame_start"],
                    "progress": 0.0,
                    "activity": None,
                    "error": None,
                    "time_cost": None,
                },
            )
            self.store.add_history(
                {"task_id": task["id"], "worker_id": worker_id, "lease": lease, "started": now}
            )
            self.store.update_worker(
                worker_id,
                {
                    **(report or {}),
                    "current_task": task["id"],
                    "activity": f"task {task['id']}",
                    "time_cost": 0.0,
                },
            )
            self._worker_changed(worker_id)
            self._task_changed(task)
            return {**task, "lease": lease}

    def _requeue_leased(self, worker_id: int, reason: str) -> None:
        for task in self.store.tasks_leased_to(worker_id):
            self._move_task(task, T.QUEUED, reason, outcome="lost")

    # -- tasks -----------------------------------------------------------------------

    def get_task(self, task_id: int) -> Row:
        row = self.store.get_task(task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        return row

    def _task_state(self, task_id: int) -> Row:
        """The task's state columns (see Store.task_state): enough for every rule."""
        row = self.store.task_state(task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        return row

    def list_tasks(self, **filters: Any) -> tuple[list[Row], int]:
        return self.store.list_tasks(**filters)

    def task_dependencies(self, task_id: int) -> list[int]:
        """The tasks this one waits for."""
        return self.store.depends_on(task_id)

    def task_history(self, task_id: int) -> list[Row]:
        self.get_task(task_id)
        return self.store.history(task_id)

    def _task_changed(self, task: Row, *, job: bool = True) -> None:
        """Emit the task; refresh its job unless only progress fields moved (a job's
        figures come from its tasks' statuses)."""
        self._emit("task", task["id"], _LOAD)
        if job and task["job_id"] is not None:
            self._refresh_job(task["job_id"])

    def _compile(self, type_: str, settings: dict[str, Any]) -> tuple[Any, Any]:
        compiler = get_compiler(type_)
        if compiler is None:
            raise Invalid(f"type: unknown compiler {type_!r}; known: {', '.join(compiler_names())}")
        try:
            model = compiler.settings_model.model_validate(settings)
        except ValidationError as exc:
            raise _field_error(exc, "settings") from exc
        return compiler, model

    def create_task(
        self, *, type: str, settings: str, priority: int, parser: str | None, task_id: int | None
    ) -> Row:
        """The 2015 `POST /tasks`: one task from a settings JSON string."""
        try:
            parsed = json.loads(settings)
        except json.JSONDecodeError as exc:
            raise Invalid(f"settings: not a JSON string ({exc.msg})") from exc
        if not isinstance(parsed, dict):
            raise Invalid("settings: must be a JSON object encoded as a string")
        compiler, model = self._compile(type, parsed)
        now = _now()
        with self._change():
            new_id = self.store.insert_task(
                {
                    "external_id": task_id,
                    "type": type,
                    "parser": parser or compiler.parser,
                    "settings": settings,
                    "commands": self._with_variables(
                        compiler.commands(model, model.frame_start, model.frame_end)
                    ),
                    "priority": priority,
                    "job_priority": priority,
                    "status": T.QUEUED.value,
                    "frame_start": model.frame_start,
                    "frame_end": model.frame_end,
                    "frame_current": model.frame_start,
                    "format": compiler.output_format(model),
                    "created": now,
                    "updated": now,
                }
            )
            self._emit("task", new_id, _LOAD)
        self._signal_queued()
        return self.get_task(new_id)

    def update_task(self, task_id: int, fields: dict[str, Any], worker_id: int | None) -> None:
        """A partial update. From a worker (`worker_id` set) it must hold the lease."""
        task = self._task_state(task_id)
        new_status = T(fields["status"]) if fields.get("status") else None
        if worker_id is not None:
            lease = fields.get("lease")
            holds = task["worker_id"] == worker_id and (lease is None or lease == task["lease"])
            if holds and task["status"] == T.COMPLETED and new_status == T.COMPLETED:
                return  # a completion delivered twice: recorded once
            if not holds or task["status"] != T.RENDERING:
                raise Conflict(
                    f"task {task_id} is not leased to worker {worker_id} "
                    f"(status {task['status']}, lease {task['lease']})"
                )
        progress = {
            k: fields[k]
            for k in ("frame_current", "activity", "progress", "time_cost", "error")
            if fields.get(k) is not None
        }
        with self._change():
            if "priority" in fields and fields["priority"] is not None:
                self.store.update_task(task_id, {"priority": fields["priority"]})
            if progress:
                progress["updated"] = progress["last_progress"] = _now()
                self.store.update_task(task_id, progress)
                if task["worker_id"] is not None and task["status"] == T.RENDERING:
                    shown = {k: progress[k] for k in ("activity", "time_cost") if k in progress}
                    if worker_id is not None:  # a report from the worker: it is alive
                        shown |= {"last_seen": progress["updated"], "connection": "online"}
                    self.store.update_worker(task["worker_id"], shown)
                    self._worker_changed(task["worker_id"])
            if new_status is not None and new_status != task["status"]:
                reason = fields.get("error") or (
                    "by the worker" if worker_id else "by the wrangler"
                )
                if new_status == T.FAILED and task["status"] == T.RENDERING:
                    self._fail_attempt(task, reason)
                else:
                    self._move_task(task, new_status, reason, outcome=new_status.value)
            # A status change has recounted the job already (in _move_task).
            self._task_changed(task, job=False)

    def _fail_attempt(self, task: Row, reason: str) -> None:
        """A failed run: retried (on another worker) until max_attempts, then failed.

        A worker that fails `blocklist_threshold` tasks of one job is kept off that job;
        when no eligible worker is left for the job, its queued tasks fail rather than
        wait forever.
        """
        attempts = task["attempts"] + 1
        self.store.update_task(task["id"], {"attempts": attempts})
        task = {**task, "attempts": attempts}
        final = attempts >= self.config.max_attempts
        target = T.FAILED if final else T.QUEUED
        note = reason if final else f"{reason} (attempt {attempts} of {self.config.max_attempts})"
        self._move_task(task, target, note, outcome="failed")
        job_id, worker_id = task["job_id"], task["worker_id"]
        if job_id is None or worker_id is None:
            return
        if self.store.failures_in_job(job_id, worker_id) < self.config.blocklist_threshold:
            return
        self.store.blocklist_add(
            job_id, worker_id, _now(), f"failed {self.config.blocklist_threshold} tasks of this job"
        )
        if self.store.count_eligible_workers(job_id) == 0:
            why = "no worker left that is not blocklisted on this job"
            for queued in self.store.get_tasks(self.store.job_task_ids(job_id, [T.QUEUED.value])):
                self._move_task(queued, T.FAILED, why, outcome="failed")

    def job_blocklist(self, job_id: int) -> list[Row]:
        self.get_job(job_id)
        return self.store.blocklist(job_id)

    def clear_blocklist(self, job_id: int, worker_id: int | None = None) -> list[Row]:
        self.get_job(job_id)
        with self._change():
            self.store.blocklist_clear(job_id, worker_id)
            self._refresh_job(job_id)
        self._signal_queued()
        return self.store.blocklist(job_id)

    def _move_task(self, task: Row, new: TaskStatus, reason: str, *, outcome: str) -> None:
        """The one place a task's status changes, with its side effects."""
        old = T(task["status"])
        if new == old:
            return
        if not can_transition(old, new):
            raise Conflict(f"task {task['id']} cannot go from {old} to {new}")
        now = _now()
        fields: Row = {"status": new.value, "updated": now}
        if old == T.RENDERING:
            self.store.close_history(
                task["id"], task["lease"], {"ended": now, "outcome": outcome, "reason": reason}
            )
            if task["worker_id"] is not None:
                self.store.update_worker(
                    task["worker_id"], {"current_task": None, "activity": None}
                )
                self._worker_changed(task["worker_id"])
                self._signal_lease(task["worker_id"])
        if new in FINISHED or new == T.PAUSED:
            fields["finished"] = now if new in FINISHED else None
        if new == T.COMPLETED:
            fields["progress"] = 100.0
            fields["frame_current"] = task["frame_end"]
        if new in (T.FAILED, T.CANCELED):
            fields["error"] = reason  # why it ended, shown beside the task
        if new == T.QUEUED:
            fields |= {"worker_id": None, "finished": None}
            if old != T.RENDERING:
                fields |= {"attempts": 0, "progress": 0.0, "error": None}
        self.store.update_task(task["id"], fields)
        if new in (T.FAILED, T.CANCELED):
            # What waits for this task can no longer run.
            for waiting in self.store.queued_dependents(task["id"]):
                why = f"task {task['id']}, which it waits for, was {new}"
                self._move_task(waiting, T.CANCELED, why, outcome="canceled")
        if new == T.QUEUED:
            # Waiters wake only after this synchronous transaction has committed.
            self._signal_queued()
        self._task_changed(task)

    def set_task_status(
        self, task_id: int, status: TaskStatus, reason: str = "by the wrangler"
    ) -> Row:
        with self._change():
            self._move_task(self.get_task(task_id), status, reason, outcome=status.value)
            return self.get_task(task_id)

    def delete_task(self, task_id: int) -> None:
        task = self.get_task(task_id)
        with self._change():
            if task["status"] == T.RENDERING:
                self._move_task(task, T.CANCELED, "task deleted", outcome="canceled")
            self.store.delete_task(task_id)
            self._emit("task", task_id, None)
            if task["job_id"] is not None:
                self._refresh_job(task["job_id"])
        self.logs.delete(task_id)

    def _leased_task(self, task_id: int, worker_id: int | None, lease: int | None) -> Row:
        """The task; when a worker asks, it must be rendering it under its current lease."""
        task = self._task_state(task_id)
        if worker_id is not None and (
            task["worker_id"] != worker_id
            or task["status"] != T.RENDERING
            or (lease is not None and lease != task["lease"])
        ):
            raise Conflict(f"task {task_id} is not leased to worker {worker_id}")
        return task

    def _unwritable(self, what: str, exc: OSError) -> Unavailable:
        self._set_storage_error(f"cannot write {what}: {exc.strerror}")
        return Unavailable(self.storage_error or what)

    # -- task logs -------------------------------------------------------------------

    def append_log(
        self, task_id: int, lines: list[str], worker_id: int | None, lease: int | None
    ) -> None:
        task = self._leased_task(task_id, worker_id, lease)
        try:
            self.logs.append(task_id, lines)
        except OSError as exc:
            raise self._unwritable("the task log", exc) from exc
        if lines and task["worker_id"] is not None:
            with self._change():
                now = _now()
                seen = {"last_seen": now} if worker_id is not None else {}
                self.store.update_worker(task["worker_id"], {"log": "\n".join(lines[-5:]), **seen})
                self.store.update_task(task_id, {"last_progress": now})

    def read_log(
        self, task_id: int, *, tail: int | None = None, offset: int = 0, limit: int | None = None
    ) -> tuple[bytes, int]:
        """(text, full size). `tail` lines from the end, or `limit` bytes from `offset`."""
        self.get_task(task_id)
        size = self.logs.size(task_id)
        if tail is not None:
            return self.logs.tail(task_id, tail), size
        return self.logs.read_range(task_id, offset, limit if limit is not None else size), size

    # -- previews --------------------------------------------------------------------

    def add_preview(
        self, task_id: int, worker_id: int | None, lease: int | None, frame: int, jpeg: bytes
    ) -> Row:
        """Keep a frame's thumbnail (from the worker holding the task) for its job."""
        task = self._leased_task(task_id, worker_id, lease)
        if task["job_id"] is None:
            raise Invalid("previews are kept per job, and this task has none")
        check_preview(jpeg)
        try:
            entry = self.previews.save(task["job_id"], task_id, frame, jpeg)
        except OSError as exc:
            raise self._unwritable("a preview", exc) from exc
        self.events.publish(Change("preview", task["job_id"], entry))
        return entry

    def job_previews(self, job_id: int) -> list[Row]:
        self.get_job(job_id)
        return self.previews.list(job_id)

    def job_preview(self, job_id: int, frame: int) -> bytes:
        self.get_job(job_id)
        data = self.previews.read(job_id, frame)
        if data is None:
            raise NotFound(f"job {job_id} keeps no preview of frame {frame}")
        return data

    # -- jobs ------------------------------------------------------------------------

    def prepare_job(
        self,
        *,
        name: str,
        type: str,
        settings: dict[str, Any],
        priority: int,
        chunk_size: int,
        preview_first: int | None = None,
    ) -> PreparedJob:
        """Validate and compile a job into rows. Pure: `submit_job` runs it on a thread,
        so a job of 100,000 tasks does not stall the loop (and the window)."""
        compiler, model = self._compile(type, settings)
        size = chunk_size if compiler.chunked else model.frame_end - model.frame_start + 1
        chunks = chunk_frames(model.frame_start, model.frame_end, size)
        finishing = compiler.finishing_tasks(model)
        if len(chunks) + len(finishing) > MAX_TASKS_PER_JOB:
            raise Invalid(
                f"chunk_size: {len(chunks)} tasks for frames {model.frame_start}-{model.frame_end};"
                f" at most {MAX_TASKS_PER_JOB} per job, use a larger chunk_size"
            )
        now = _now()
        output_format = compiler.output_format(model)

        def row(type_: str, parser: str, start: int, end: int, commands: list[list[str]]) -> Row:
            return {
                "type": type_,
                "parser": parser,
                "commands": self._with_variables(commands),
                "priority": 0,
                "job_priority": priority,
                "status": T.QUEUED.value,
                "frame_start": start,
                "frame_end": end,
                "frame_current": start,
                "format": output_format,
                "created": now,
                "updated": now,
            }

        tasks = [
            row(type, compiler.parser, start, end, compiler.commands(model, start, end))
            for start, end in chunks
        ]
        if preview_first:
            # Every Nth chunk first, so the whole shot can be judged early; then the rest.
            for task in tasks[::preview_first]:
                task["priority"] = 1
        tasks += [row(f.type, f.parser, f.frame_start, f.frame_end, f.commands) for f in finishing]
        deps = {len(chunks) + i: range(len(chunks)) for i in range(len(finishing))}
        job = {
            "name": name,
            "type": type,
            "settings": model.model_dump(),
            "priority": priority,
            "chunk_size": chunk_size,
            "preview_first": preview_first,
            "status": T.QUEUED.value,
            "frame_start": model.frame_start,
            "frame_end": model.frame_end,
            "created": now,
            "updated": now,
        }
        columns, values = Store.encode_tasks(tasks)
        return PreparedJob(job, tasks, columns, values, deps)

    def _begin_job(self, prepared: PreparedJob) -> int:
        with self._change():
            return self.store.insert_job({**prepared.job, "tasks_expected": len(prepared.tasks)})

    def _add_tasks(
        self, job_id: int, prepared: PreparedJob, start: int, end: int, done: list[int]
    ) -> None:
        """One transaction of tasks (with their dependencies, so no task is ever seen
        without them); events are built from the rows in hand. `done` collects ids."""
        with self._change():
            ids = self.store.insert_tasks(
                job_id, prepared.task_columns, prepared.task_values[start:end]
            )
            done += ids
            pairs = [
                (done[i], done[j])
                for i in range(start, min(end, len(done)))
                for j in prepared.deps.get(i, ())
            ]
            if pairs:
                self.store.insert_deps(pairs)
            blank = self.store.blank_task()
            for task_id, task in zip(ids, prepared.tasks[start:end], strict=True):
                self._emit("task", task_id, {**blank, **task, "id": task_id, "job_id": job_id})
            if end >= len(prepared.tasks):  # counting a big job's tasks once is enough
                self._refresh_job(job_id)
        self._signal_queued()

    def _abandon_job(self, job_id: int) -> None:
        """Undo a job whose insert failed half-way, so nothing half-written stays."""
        try:
            with self._change():
                self.store.delete_job(job_id)
                self._emit("job", job_id, None)
        except Unavailable:
            log.error("job %s is incomplete; it is removed at the next start", job_id)

    def commit_job(self, prepared: PreparedJob) -> Row:
        job_id = self._begin_job(prepared)
        try:
            self._add_tasks(job_id, prepared, 0, len(prepared.tasks), [])
        except BaseException:
            self._abandon_job(job_id)
            raise
        return self.get_job(job_id)

    def create_job(self, **job: Any) -> Row:
        """Submit a job in one go (small jobs; see `submit_job` for the loop-friendly way)."""
        return self.commit_job(self.prepare_job(**job))

    async def submit_job(self, **job: Any) -> Row:
        """Submit a job without stalling the loop: compiled on a thread, inserted in
        chunks with the loop running in between. Its first tasks may start before the
        last are in; the answer (2xx) comes once every task is committed."""
        prepared = await asyncio.to_thread(lambda: self.prepare_job(**job))
        # Each chunk commits on its own (not in a request's group): a failed commit
        # must stop the insert here, and undo the job, not surface a turn later.
        batched = _BATCH.set(None)
        try:
            job_id = self._begin_job(prepared)
            ids: list[int] = []
            try:
                for start in range(0, len(prepared.tasks), INSERT_CHUNK):
                    self._add_tasks(job_id, prepared, start, start + INSERT_CHUNK, ids)
                    await asyncio.sleep(0)
            except BaseException:
                self._abandon_job(job_id)
                raise
        finally:
            _BATCH.reset(batched)
        return self.get_job(job_id)

    def _job_view(self, job: Row) -> Row:
        counts = self.store.job_task_counts(job["id"])
        total = sum(counts.values())
        done = counts.get(T.COMPLETED, 0)
        return {
            **job,
            "task_counts": counts,
            "tasks_total": total,
            "progress": round(100.0 * done / total, 1) if total else 100.0,
        }

    def get_job(self, job_id: int) -> Row:
        row = self.store.get_job(job_id)
        if row is None:
            raise NotFound(f"job {job_id} does not exist")
        return self._job_view(row)

    def list_jobs(
        self, *, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[Row], int]:
        rows, total = self.store.list_jobs(status, limit, offset)
        return [self._job_view(r) for r in rows], total

    def _refresh_job(self, job_id: int) -> None:
        found = self.store.job_status_and_counts(job_id)
        if found is None:
            return
        old, counts = found
        status = job_status(counts).value
        if status != old:
            self.store.update_job(job_id, {"status": status, "updated": _now()})
        self._emit("job", job_id, _LOAD)

    def job_action(self, job_id: int, action: str) -> Row:
        """pause | resume | cancel | requeue | requeue_failed, applied to the job's tasks."""
        moves: dict[str, tuple[tuple[TaskStatus, ...], TaskStatus]] = {
            "pause": ((T.QUEUED, T.RENDERING), T.PAUSED),
            "resume": ((T.PAUSED,), T.QUEUED),
            "cancel": ((T.QUEUED, T.RENDERING, T.PAUSED), T.CANCELED),
            "requeue": ((T.COMPLETED, T.FAILED, T.CANCELED, T.PAUSED), T.QUEUED),
            "requeue_failed": ((T.FAILED, T.CANCELED), T.QUEUED),
        }
        if action not in moves:
            raise Invalid(f"action: unknown job action {action!r}; known: {', '.join(moves)}")
        self.get_job(job_id)
        sources, target = moves[action]
        with self._change():
            ids = self.store.job_task_ids(job_id, [s.value for s in sources])
            for task in self.store.get_tasks(ids):
                self._move_task(task, target, f"job {action} by the wrangler", outcome=target.value)
        return self.get_job(job_id)

    def set_job_priority(self, job_id: int, priority: int) -> Row:
        self.get_job(job_id)
        with self._change():
            self.store.set_job_priority(job_id, priority)
            self._refresh_job(job_id)
        return self.get_job(job_id)

    def delete_job(self, job_id: int) -> None:
        self.get_job(job_id)
        with self._change():
            ids = self.store.job_task_ids(job_id)
            for task in self.store.get_tasks(ids):
                if task["status"] == T.RENDERING:
                    self._move_task(task, T.CANCELED, "job deleted", outcome="canceled")
            self.store.delete_job(job_id)
            for task_id in ids:
                self._emit("task", task_id, None)
            self._emit("job", job_id, None)
        for task_id in ids:
            self.logs.delete(task_id)
        self.previews.delete_job(job_id)

    # -- timeouts --------------------------------------------------------------------

    def check_timeouts(self) -> None:
        """Workers silent for worker_timeout go offline and lose their tasks; tasks
        without output or progress for task_timeout count as a failed attempt (the lease
        change tells the worker to kill the process)."""
        now = _now()
        with self._change():
            for worker in self.store.stale_workers(now - self.config.worker_timeout):
                if worker["id"] in self._polling:
                    continue
                self._requeue_leased(worker["id"], "worker timed out")
                self.store.update_worker(
                    worker["id"],
                    {
                        "connection": Connection.OFFLINE.value,
                        "activity": None,
                        "current_task": None,
                    },
                )
                self._worker_changed(worker["id"])
                log.warning("worker %s timed out", worker["hostname"])
            for task in self.store.hung_tasks(now - self.config.task_timeout):
                self._fail_attempt(
                    task, f"no output or progress for {self.config.task_timeout:g} s"
                )

    async def run_timeouts(self) -> None:
        interval = max(0.2, min(self.config.worker_timeout, self.config.task_timeout) / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                self.check_timeouts()
            except Unavailable as exc:
                log.error("timeout check skipped: %s", exc)
