"""Request and response shapes of the HTTP API.

Requests are validated with pydantic (clear per-field errors, no hand-rolled checks);
the same models generate the OpenAPI document, so the spec cannot drift from the code.
Field names of the 2015 API are kept exactly, including `1min`-style keys via aliases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, create_model

from flamenco_gui.compilers import compiler_names
from flamenco_gui.farm.settings import SETTINGS
from flamenco_gui.farm.states import TaskStatus, WorkerReport

# SQLite stores 64-bit integers: anything larger is refused at the door, not at the INSERT.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=0, le=MAX_ID)]
AcceptKind = Literal["blender_render", "ffmpeg", "command", "blender_python"]
Int64 = Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]
if TYPE_CHECKING:
    CompilerName = str
else:  # the registry's names, checked by pydantic and listed in the OpenAPI document
    CompilerName = Literal[tuple(compiler_names())]


class Strict(BaseModel):
    # NaN and Infinity are not JSON; pydantic's parser would otherwise accept them.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


# -- the 2015 API ------------------------------------------------------------------------


class TaskCreate(Strict):
    """`POST /tasks`: settings is a JSON *string* read by the compiler named by type."""

    type: CompilerName = Field(description="the compiler, e.g. blender_render")
    settings: str = Field(max_length=65536, description="compiler settings, a JSON string")
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    task_id: Int64 | None = Field(default=None, description="the caller's own reference")
    parser: str | None = Field(default=None, max_length=64)


class SeedTask(BaseModel):
    id: int
    worker_id: int | None
    priority: int
    frame_start: int | None
    frame_end: int | None
    frame_current: int | None
    status: TaskStatus
    format: str | None
    job_id: int | None = None
    task_id: int | None = None
    type: str | None = None
    parser: str | None = None


# The 2015 worker's words for a task's end, as the 2015 manager understood them.
SEED_STATUS = {"finished": "completed", "aborted": "canceled"}


def _seed_status(value: Any) -> Any:
    return SEED_STATUS.get(value, value) if isinstance(value, str) else value


class FrameReport(Strict):
    """One frame as the worker saw it (worker/frame_records.py)."""

    frame: Int64
    started: float | None = Field(default=None, ge=0)
    finished: float | None = Field(default=None, ge=0)
    render_seconds: float | None = Field(default=None, ge=0)
    startup_seconds: float | None = Field(default=None, ge=0)
    peak_memory_mb: float | None = Field(default=None, ge=0)
    path: str | None = Field(default=None, max_length=4096)
    bytes: Int64 | None = None
    check: str | None = Field(default=None, max_length=4096)


# A task's frames, sent whole with each report: a chunk is rarely longer (docs/limits.md).
MAX_FRAMES_PER_REPORT = 10_000


class TaskPatch(Strict):
    """`PATCH /tasks/{id}`: progress and status from the leasing worker, or a wrangler's
    status/priority change."""

    status: Annotated[TaskStatus | None, BeforeValidator(_seed_status)] = Field(
        default=None, description="also the 2015 words: finished = completed, aborted = canceled"
    )
    lease: Id | None = None
    log: str | None = Field(
        default=None, max_length=1024 * 1024, description="2015: lines appended to the task log"
    )
    frame_current: Int64 | None = None
    activity: str | None = Field(default=None, max_length=1024)
    progress: float | None = Field(default=None, ge=0, le=100)
    time_cost: float | None = Field(default=None, ge=0)
    error: str | None = Field(default=None, max_length=4096)
    priority: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    frames: list[FrameReport] | None = Field(
        default=None,
        max_length=MAX_FRAMES_PER_REPORT,
        description="the task's frames so far, whole each time (docs/statistics.md)",
    )


class LoadAverage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", allow_inf_nan=False)

    one: float | None = Field(default=None, alias="1min")
    five: float | None = Field(default=None, alias="5min")
    fifteen: float | None = Field(default=None, alias="15min")


class UpdateFrequent(Strict):
    load_average: LoadAverage | None = None
    worker_cpu_percent: float | None = None


class UpdateLessFrequent(Strict):
    worker_architecture: str | None = Field(default=None, max_length=64)
    worker_disk_percent: float | None = None
    worker_mem_percent: float | None = None
    worker_num_cpus: Int64 | None = None


MacAddress = Annotated[str, Field(max_length=64)] | Int64 | None
# Worker identity and opt-in (docs/security.md): the id the worker generated, the kinds
# of task it accepts (compilers/kinds.py), where this process runs (hashed).
WorkerUuid = Annotated[
    str | None,
    Field(default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
Accepts = Annotated[list[AcceptKind] | None, Field(default=None, max_length=8)]
Node = Annotated[str | None, Field(default=None, min_length=8, max_length=64)]
# farm/tags.py: lower case letters, digits, `_.-`; at most 16 on a worker or a job.
Tag = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
Tags = Annotated[list[Tag], Field(max_length=16)]
Broadcasts = Annotated[
    list[Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,3}){3}$")]] | None,
    Field(default=None, max_length=4, description="its subnets' broadcast addresses (WoL)"),
]


class WorkerRegister(Strict):
    hostname: str = Field(min_length=1, max_length=255)
    system: str = Field(default="", max_length=255)
    port: int | None = Field(default=None, ge=0, le=65535)
    mac_address: MacAddress = None
    update_frequent: UpdateFrequent | None = None
    update_less_frequent: UpdateLessFrequent | None = None
    uuid: WorkerUuid = None
    accepts: Accepts = None
    node: Node = None
    tags: Tags | None = Field(default=None, description="offered by the worker's --tags")
    allow_power: bool | None = Field(default=None, description="started with --allow-power")
    broadcasts: Broadcasts = None


class WorkerControlState(BaseModel):
    id: int
    action: Literal["stop", "restart", "shutdown", "reboot"]
    when: Literal["now", "after_task"]
    state: Literal["requested", "acknowledged", "restarting", "done"]
    requested: float


class ControlAck(Strict):
    """A worker's word on the request it was sent (farm/worker_control.py)."""

    id: Id
    state: Literal["acknowledged", "restarting", "done"]


class WorkerControlRequest(Strict):
    action: Literal["stop", "restart", "shutdown", "reboot", "resume"]
    when: Literal["now", "after_task"] = Field(
        default="after_task", description="now: its running task is requeued at once"
    )


HourMinute = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ScheduleRange(Strict):
    days: list[Day] = Field(min_length=1, max_length=7)
    start: HourMinute
    end: HourMinute = Field(description="at or before start: runs past midnight")


class WorkerSchedule(Strict):
    """farm/schedules.py: when the worker renders, in its time zone."""

    tz: str = Field(default="UTC", max_length=64, description="IANA, e.g. Europe/Amsterdam")
    ranges: list[ScheduleRange] = Field(max_length=28)
    on_end: Literal["finish", "requeue"] = Field(
        default="finish", description="a task running at the end of a range"
    )


class WorkerScheduleBody(Strict):
    schedule: WorkerSchedule | None = Field(description="null: always on")


class WorkerObject(BaseModel):
    """A worker as `GET /workers` and `POST /workers` show it (2015 fields first)."""

    activity: str | None
    connection: Literal["online", "unresponsive", "offline"]
    current_task: int | None
    hostname: str
    id: int
    ip_address: str | None
    log: str | None
    port: int | None
    status: Literal["enabled", "disabled"]
    system: str | None
    time_cost: float | None
    last_seen: float | None = None
    version: str | None = Field(default=None, description="the build it reported it runs")
    build: dict[str, Any] | None = Field(
        default=None, description="{platform, arch, frozen, sha256, reported_at} of that build"
    )
    secret: str | None = Field(default=None, description="only in the registration answer")
    label: str | None = Field(
        default=None, description="unique: the hostname, or `render (2)` for a second one"
    )
    accepts: list[str] | None = Field(
        default=None, description="task kinds it runs; null: never said (a 2015 client)"
    )
    tags: list[str] = Field(
        default_factory=list, description="the wrangler's, or (none set) its --tags"
    )
    tags_offered: list[str] = Field(default_factory=list, description="its --tags")
    allow_power: bool = Field(default=False, description="its owner allows shutdown/reboot")
    mac_address: str | None = Field(default=None, description="its MACs, comma-separated")
    control: WorkerControlState | None = Field(
        default=None, description="the wrangler's pending remote request, until done"
    )
    schedule: dict[str, Any] | None = Field(default=None, description="null: always on")
    schedule_next_change: float | None = Field(
        default=None, description="when its schedule next turns it on or off"
    )


class WorkerInfo(BaseModel):
    """`GET /workers/{id}`: the 2015 machine report."""

    hostname: str
    mac_address: MacAddress
    system: str | None
    update_frequent: dict[str, Any]
    update_less_frequent: dict[str, Any]
    id: int
    status: str
    connection: str
    last_seen: float | None
    version: str | None = None
    tags: list[str] = Field(default_factory=list, description="the tags dispatch uses")
    tags_offered: list[str] = Field(default_factory=list, description="its --tags")


class WorkerPatch(Strict):
    """`PATCH /workers/{id}`: the worker's pull (available), watch (rendering) or goodbye."""

    status: WorkerReport
    task_id: Id | None = Field(default=None, description="with rendering: the task it runs")
    wait: float = Field(default=0, ge=0, le=60, description="seconds to hold the answer")
    mac_address: MacAddress = None
    update_frequent: UpdateFrequent | None = None
    update_less_frequent: UpdateLessFrequent | None = None
    accepts: Accepts = None
    node: Node = None
    tags: Tags | None = Field(default=None, description="offered by the worker's --tags")
    allow_power: bool | None = Field(default=None, description="started with --allow-power")
    broadcasts: Broadcasts = None
    control_ack: ControlAck | None = None
    refuse: str | None = Field(
        default=None,
        max_length=80,
        description="with available: why it takes no work now (e.g. `user active`, "
        "--when-idle); what it held is requeued, nothing is claimed, the answer is at once",
    )


class TaskAssignment(BaseModel):
    task_id: int | None
    lease: int | None = None
    control: WorkerControlState | None = Field(
        default=None, description="present while the wrangler's remote request is pending"
    )
    check_update: bool = Field(
        default=False,
        description="present (true) once after `POST /workers/update`: check for an update now",
    )


# -- extensions --------------------------------------------------------------------------


class Task(SeedTask):
    commands: list[list[str]] | None = None
    lease: int
    progress: float | None
    activity: str | None
    attempts: int
    time_cost: float | None
    error: str | None
    settings: str | None = None
    created: float | None
    updated: float | None
    started: float | None
    finished: float | None


class HistoryEntry(BaseModel):
    worker_id: int | None
    lease: int | None
    started: float | None
    ended: float | None
    outcome: str | None
    reason: str | None


class FrameRulesShape(BaseModel):
    min_bytes: int
    resolution: list[int] | None
    allow_uniform: bool


class TaskDetail(Task):
    history: list[HistoryEntry]
    depends_on: list[int] = Field(description="tasks that must complete before this one runs")
    waiting_reason: str | None = Field(
        default=None, description="a queued task: why it cannot start (its job's reason)"
    )
    storage: str = Field(
        default="shared", description="its job's storage: 'manager' jobs' files come from GET"
        " /tasks/{id}/files (docs/storage.md)",
    )  # fmt: skip
    frame_check: FrameRulesShape | None = Field(
        default=None, description="what the worker checks each frame against; null: none"
    )


class TaskPage(BaseModel):
    tasks: list[Task]
    total: int
    limit: int
    offset: int


class TaskQuery(Strict):
    status: TaskStatus | None = None
    job_id: Id | None = None
    worker_id: Id | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_ID)


class LogAppend(Strict):
    lines: list[str] = Field(description="at most max_log_batch_lines (docs/limits.md)")
    lease: Id | None = None
    seq: Id | None = Field(
        default=None, description="the worker's number for this batch: a retry lands once"
    )


class LogQuery(Strict):
    tail: int | None = Field(default=None, ge=0, le=100_000)
    offset: int = Field(default=0, ge=0, le=MAX_ID)
    limit: int | None = Field(default=None, ge=0, le=64 * 1024 * 1024)


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lowercase hex")]
FileSize = Annotated[int, Field(ge=0, le=2**62)]


class JobFileIn(Strict):
    path: str = Field(min_length=1, max_length=4096, description="relative, / separated")
    sha256: Sha256
    size: FileSize


class JobCreate(Strict):
    name: str = Field(min_length=1, max_length=255)
    type: CompilerName
    settings: dict[str, Any]
    priority: int = Field(default=50, ge=-1_000_000, le=1_000_000)
    chunk_size: int = Field(default=1, ge=1, le=100_000)
    preview_first: int | None = Field(
        default=None, ge=2, le=100_000, description="render every Nth chunk first, then the rest"
    )
    tags: Tags = Field(default_factory=list, description="a worker must have all of them")
    depends_on: list[Id] = Field(
        default_factory=list, max_length=100, description="jobs that must complete first"
    )
    storage: Literal["shared", "manager"] = Field(
        default="shared",
        description="shared: workers see the files at their own paths; manager: the files"
        " (`files`, uploaded with PUT /files/{sha256}) travel through the manager",
    )
    files: list[JobFileIn] = Field(
        default_factory=list, description="a manager job's manifest: path in the pack → file"
    )
    skip_existing: bool = Field(
        default=False,
        description="render only the frames not already in the output and sound",
    )


class Job(BaseModel):
    id: int
    name: str
    type: str
    settings: dict[str, Any]
    priority: int
    chunk_size: int | None
    preview_first: int | None = None
    status: str
    frame_start: int | None
    frame_end: int | None
    created: float | None
    updated: float | None
    started: float | None = Field(
        default=None,
        description="when the job's current run began rendering (a requeue starts a new one)",
    )
    task_counts: dict[str, int]
    tasks_total: int
    progress: float
    waiting_reason: str | None = Field(
        default=None,
        description="why queued tasks cannot start: no worker accepts them or has its tags,"
        " waiting for job N",
    )
    tags: list[str] = Field(default_factory=list, description="a worker must have all of them")
    depends_on: list[int] = Field(default_factory=list, description="jobs it waits for")
    storage: str | None = Field(default=None, description="'manager', or none for shared")
    output: str | None = Field(
        default=None, description="a manager job's output folder on the manager's machine"
    )
    elapsed: float | None = Field(
        default=None, description="seconds since its first task started; null: none has"
    )
    remaining: float | None = Field(
        default=None, description="seconds left, from its measured frames; null: no estimate"
    )
    eta_note: str | None = Field(
        default=None, description="why there is no estimate: waiting, no frame finished yet …"
    )
    eta_at: float | None = Field(
        default=None, description="the moment elapsed and remaining are for"
    )


class JobPage(BaseModel):
    jobs: list[Job]
    total: int
    limit: int
    offset: int


class JobQuery(Strict):
    status: TaskStatus | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_ID)


class JobAction(Strict):
    action: Literal[
        "pause", "pause_now", "resume", "cancel", "requeue", "requeue_failed", "release"
    ]


class JobPatch(Strict):
    priority: int = Field(ge=-1_000_000, le=1_000_000)


class BlocklistEntry(BaseModel):
    worker_id: int
    hostname: str | None
    created: float | None
    reason: str | None


class BlocklistQuery(Strict):
    worker_id: Id | None = Field(default=None, description="clear only this worker")


class WorkerSwitch(Strict):
    status: Literal["enabled", "disabled"]


class WorkerTags(Strict):
    tags: Tags


class Woken(BaseModel):
    sent: list[str] = Field(description="`mac via address` of each magic packet sent")


# Generated from the one definition of each setting (farm/settings.py).
FarmSettings = create_model(
    "FarmSettings",
    **{st.key: (st.kind, Field(description=st.help)) for st in SETTINGS},  # type: ignore[call-overload]
)
SettingsPatch = create_model(
    "SettingsPatch",
    __base__=Strict,
    **{  # type: ignore[call-overload]
        st.key: (st.kind | None, Field(default=None, ge=st.low, le=st.high, description=st.help))
        for st in SETTINGS
    },
)


class PlatformPaths(Strict):
    linux: str | None = Field(default=None, min_length=1, max_length=1024)
    windows: str | None = Field(default=None, min_length=1, max_length=1024)
    darwin: str | None = Field(default=None, min_length=1, max_length=1024)


class PathVariables(
    RootModel[dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], PlatformPaths]]
):
    """name -> the path on each platform, e.g. {"storage": {"linux": "/mnt/render"}}."""


class PreviewUpload(Strict):
    frame: Int64
    lease: Id | None = None


class PreviewQuery(Strict):
    frame: Int64 | None = Field(default=None, description="default: the newest preview")


class Preview(BaseModel):
    frame: int
    task_id: int
    size: int
    time: float


class Deleted(BaseModel):
    id: int
    deleted: bool


class LoopLag(BaseModel):
    p99_ms: float
    max_ms: float
    window_s: float


class HealthQuery(Strict):
    lag_window: float | None = Field(
        default=None, gt=0, le=60, description="seconds of loop-lag samples to sum up (60)"
    )


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    loop_lag: LoopLag
    storage_error: str | None = Field(description="why the data dir cannot be written")
    files_bytes: int = Field(default=0, description="disk used by the file store (docs/storage.md)")


class Version(BaseModel):
    version: str
    api: str


class Error(BaseModel):
    error: str


class FrameRecord(BaseModel):
    frame: int
    worker: str | None
    worker_id: int | None
    task_id: int | None
    started: float | None
    finished: float | None
    render_seconds: float | None
    peak_memory_mb: float | None
    path: str | None
    bytes: int | None
    check: str | None


class FrameQuery(Strict):
    format: Literal["json", "csv"] = "json"
    limit: int = Field(default=10_000, ge=1, le=100_000)
    offset: int = Field(default=0, ge=0)


class FramePage(BaseModel):
    frames: list[FrameRecord]
    total: int
    limit: int
    offset: int


class BrokenFrame(BaseModel):
    frame: int
    reason: str


class FrameCheck(BaseModel):
    frames: int = Field(description="frames the job should have")
    missing: list[int]
    broken: list[BrokenFrame]
    source: str = Field(description="where the files were checked: the output folder or records")


class Rerender(Strict):
    frames: list[Int64] | None = Field(
        default=None,
        max_length=100_000,
        description="frames to render again; default: the missing and broken ones",
    )


class Attempt(BaseModel):
    task_id: int
    frame_start: int | None
    frame_end: int | None
    worker_id: int | None
    worker: str | None
    lease: int
    started: float | None
    ended: float | None
    outcome: str | None
    reason: str | None


class StatisticsQuery(Strict):
    days: float = Field(default=7, gt=0, le=366, description="how far back, in days")


class WorkerDay(BaseModel):
    day: str
    worker: str
    frames: int
    busy_hours: float
    frames_per_hour: float | None
    failures: int


class UtilisationHour(BaseModel):
    hour: float = Field(description="the hour's start, seconds since the epoch")
    node_hours: float


class HistoryDay(BaseModel):
    day: str
    jobs: int
    frames: int
    node_hours: float
