"""The farm's rows as they cross layers: store → farm → api/gui.

TypedDicts, not classes: a row stays the plain dict that SQLite gave and the JSON
answer is built from, at no copying cost on the hot path, while mypy checks every key
a layer reads. Pure (no imports of the farm): every layer may use it.
"""

from __future__ import annotations

from typing import Any, NamedTuple, NotRequired, TypedDict

Fields = dict[str, Any]  # a partial update: column -> new value


class TaskState(TypedDict):
    """What the rules need of a task on every worker report: no JSON, no big text."""

    id: int
    job_id: int | None
    worker_id: int | None
    status: str
    lease: int
    attempts: int
    frame_start: int
    frame_end: int
    priority: int
    # Its job's status, where the query that found the task joined it: a claim need not
    # recount a job that is rendering already.
    job_status: NotRequired[str | None]


class TaskRow(TaskState):
    external_id: int | None
    type: str
    parser: str | None
    settings: str | None
    commands: list[list[str]] | None
    job_priority: int
    frame_current: int | None
    format: str | None
    progress: float | None
    activity: str | None
    time_cost: float | None
    error: str | None
    created: float | None
    updated: float | None
    started: float | None
    finished: float | None
    last_progress: float | None
    needs: NotRequired[str | None]  # compilers/kinds.py: what a worker must accept


class WorkerState(TypedDict):
    """A worker's switch and connection, without its machine reports."""

    id: int
    status: str
    connection: str


class PullState(WorkerState):
    """A worker as a pull finds it: and whether it still holds a rendering task (then
    that task is requeued first: the worker says it runs nothing)."""

    holding: bool
    hostname: str  # for the attempt's header in the task's log


class WorkerBuild(TypedDict):
    """What a worker said about the build it runs, beside its `version`."""

    platform: str  # linux, macos, windows
    arch: str  # x86_64, arm64
    frozen: bool  # the one-file executable (it can update itself); False: a checkout
    sha256: str | None
    reported_at: float


class WorkerRow(WorkerState):
    hostname: str
    secret_hash: str | None
    system: str | None
    ip_address: str | None
    port: int | None
    activity: str | None
    current_task: int | None
    log: str | None
    time_cost: float | None
    mac_address: str | None
    update_frequent: dict[str, Any] | None
    update_less_frequent: dict[str, Any] | None
    last_seen: float | None
    created: float | None
    version: str | None  # the build it reported last (PUT /workers/{id}/version)
    build: WorkerBuild | None
    uuid: NotRequired[str | None]
    accepts: NotRequired[str | None]
    tags: NotRequired[str | None]  # the wrangler's (comma-framed); None: never set
    tags_offered: NotRequired[str | None]  # the worker's --tags
    control: NotRequired[dict[str, Any] | None]  # farm/worker_control.py
    allow_power: NotRequired[int | None]  # 1: its owner allowed shutdown and reboot
    broadcasts: NotRequired[str | None]  # its subnets' broadcast addresses (Wake-on-LAN)
    schedule: NotRequired[dict[str, Any] | None]


class JobRow(TypedDict):
    id: int
    name: str
    type: str
    settings: dict[str, Any]
    priority: int
    chunk_size: int | None
    status: str
    frame_start: int | None
    frame_end: int | None
    created: float | None
    updated: float | None
    tasks_expected: int | None
    preview_first: int | None
    deleted: float | None
    started: NotRequired[float | None]  # when the current run began rendering
    tags: NotRequired[list[str] | None]  # what a worker must have (farm/tags.py)
    waiting: NotRequired[int | None]  # 1: waits for a job it depends on (farm/job_deps.py)
    storage: str | None  # "manager": files travel through the manager; None: shared


class JobFile(TypedDict):
    """One file of a `manager` job's manifest: its path in the pack and its content."""

    path: str
    sha256: str
    size: int


class JobView(JobRow):
    """A job with the figures its tasks make."""

    task_counts: dict[str, int]
    tasks_total: int
    progress: float
    depends_on: NotRequired[list[int]]
    waiting_reason: NotRequired[str | None]  # e.g. "no worker accepts command jobs"
    # farm/eta.py: seconds since the first task started (None: none has), seconds
    # left (None: nothing measures it yet) and, without an ETA, why not.
    elapsed: NotRequired[float | None]
    remaining: NotRequired[float | None]
    eta_note: NotRequired[str | None]
    eta_at: NotRequired[float]  # the moment `elapsed` and `remaining` are for


class HistoryRow(TypedDict):
    id: int
    task_id: int
    worker_id: int | None
    lease: int
    started: float | None
    ended: float | None
    outcome: str | None
    reason: str | None


class BlocklistRow(TypedDict):
    job_id: int
    worker_id: int
    created: float
    reason: str
    hostname: str | None


class PreviewEntry(TypedDict):
    frame: int
    task_id: int
    size: int
    time: float


class FrameRecordRow(TypedDict):
    """One frame of a job as last rendered (`frame_records`; docs/statistics.md)."""

    job_id: int
    frame: int
    task_id: int | None
    worker_id: int | None
    worker: str | None  # the worker's hostname, joined when read
    started: float | None
    finished: float | None
    render_seconds: float | None  # Blender's own time for the frame
    peak_memory_mb: float | None  # Blender's own memory peak while on it
    path: str | None
    bytes: int | None
    check: str | None  # "ok", or why the frame failed its check


class WorkerSpeed(TypedDict):
    """A worker's frames in one job and the wall-clock seconds they took: the frames
    after a task's first (`frames`, `seconds`), and its tasks' first frames with the
    start-up before them (`first_frames`, `first_seconds`)."""

    worker_id: int | None
    frames: int
    seconds: float | None
    first_frames: int
    first_seconds: float | None


class AttemptSums(NamedTuple):
    """One slice of a job's attempts, summed (store/frames.py, farm/frames.py)."""

    last_id: int | None  # the slice's last task; None: no task was left to sum
    first_started: float | None
    last_finished: float | None
    node_seconds: float
    failures: int


class FarmHistoryRow(TypedDict):
    """What a deleted job leaves behind."""

    job_id: int
    name: str
    type: str
    status: str
    created: float | None
    first_started: float | None
    last_finished: float | None
    deleted: float | None
    frames: int | None
    frames_rendered: int
    tasks: int
    failures: int
    node_seconds: float
