"""Workers: registration, the pull, machine reports, and the wrangler's switches."""

from __future__ import annotations

from flamenco_gui.api import schemas as s
from flamenco_gui.api import shapes
from flamenco_gui.api.routing import Auth, Ctx, Json, route
from flamenco_gui.farm.errors import Forbidden
from flamenco_gui.farm.states import WorkerReport, WorkerStatus
from flamenco_gui.rows import WorkerRow


@route("GET", "/workers", auth=Auth.VIEWER, response=dict[str, s.WorkerObject])
async def list_workers(ctx: Ctx) -> Json:
    """All workers, keyed by label (2015 API: by hostname; a second `render` is `render (2)`)."""
    rows = ctx.service.list_workers()
    labels = shapes.labels(rows)
    return {labels[w["id"]]: shapes.worker(w, labels[w["id"]]) for w in rows}


def registered(ctx: Ctx, row: WorkerRow, secret: str) -> Json:
    """The registration answer: keyed by the worker's label, with its new secret."""
    label = shapes.labels(ctx.service.list_workers())[row["id"]]
    return {label: shapes.worker(row, label) | {"secret": secret}}


@route(
    "POST",
    "/workers",
    auth=Auth.WORKER,
    body=s.WorkerRegister,
    response=dict[str, s.WorkerObject],
    errors=(403, 409, 422),
)
async def register_worker(ctx: Ctx) -> Json:
    """Register a worker (2015 API; answers 200, not 204, as it has a body).

    A new worker needs the farm token; a known `uuid` only its own secret. The answer
    carries the worker's own `secret` for all its later calls.
    """
    b: s.WorkerRegister = ctx.body
    row, secret = ctx.service.register_worker(
        b.hostname,
        b.system,
        ctx.request.remote,
        uuid=b.uuid,
        caller=ctx.principal.worker_id,
        node=b.node,
        accepts=b.accepts,
        tags=b.tags,
        allow_power=b.allow_power,
        broadcasts=b.broadcasts,
        port=b.port,
        mac_address=b.mac_address,
        update_frequent=b.update_frequent.model_dump(by_alias=True) if b.update_frequent else None,
        update_less_frequent=b.update_less_frequent.model_dump()
        if b.update_less_frequent
        else None,
    )
    return registered(ctx, row, secret)


@route(
    "GET", r"/workers/{worker_id:\d+}", auth=Auth.WORKER, response=s.WorkerInfo, errors=(403, 404)
)
async def get_worker(ctx: Ctx) -> Json:
    """A worker's machine report (2015 API); a worker reads only its own."""
    worker_id = ctx.path_int("worker_id")
    if ctx.principal.worker_id is not None and ctx.principal.worker_id != worker_id:
        raise Forbidden(f"a worker may only read its own report, not worker {worker_id}")
    return shapes.worker_info(ctx.service.get_worker(worker_id))


@route(
    "PATCH",
    r"/workers/{worker_id:\d+}",
    auth=Auth.WORKER,
    body=s.WorkerPatch,
    response=s.TaskAssignment,
    errors=(403, 404, 409, 422),
)
async def patch_worker(ctx: Ctx) -> Json:
    """The worker's report: `available` pulls its next task, `rendering` watches its lease.

    With `wait`, the answer is held until there is news (a task, a lease change) or the
    wait passes, so idle workers start new work at once without polling. After "update
    all", a pull answers `check_update: true` once: check for an update now.
    """
    worker_id = ctx.path_int("worker_id")
    if not ctx.principal.is_farm and ctx.principal.worker_id != worker_id:
        raise Forbidden(f"a worker may only report for itself, not worker {worker_id}")
    b: s.WorkerPatch = ctx.body
    if b.control_ack is not None:
        ctx.service.acknowledge_control(worker_id, b.control_ack.id, b.control_ack.state)
    if b.status == WorkerReport.AVAILABLE:
        ctx.service.begin_pull(worker_id)  # until the answer is written
        ctx.after.append(lambda: ctx.service.end_pull(worker_id))
    task_id, lease = await ctx.service.worker_report(
        worker_id,
        b.status,
        task_id=b.task_id,
        wait=b.wait,
        alive=ctx.connected,
        ip_address=ctx.request.remote,
        node=b.node,
        accepts=b.accepts,
        tags=b.tags,
        allow_power=b.allow_power,
        refuse=b.refuse,
        broadcasts=b.broadcasts,
        mac_address=b.mac_address,
        update_frequent=b.update_frequent.model_dump(by_alias=True) if b.update_frequent else None,
        update_less_frequent=b.update_less_frequent.model_dump()
        if b.update_less_frequent
        else None,
    )
    if b.status == WorkerReport.AVAILABLE and task_id is not None and lease is not None:
        claimed, leased = task_id, lease
        ctx.undo.append(
            lambda: ctx.service.release_claim(
                worker_id, claimed, leased, "the pull's connection closed before the answer"
            )
        )
    answer: Json = {"task_id": task_id, "lease": lease}
    if b.status == WorkerReport.AVAILABLE and ctx.service.take_update_request(worker_id):
        answer["check_update"] = True  # only then: the seed's answer stays as it was
    if (control := ctx.service.worker_control(worker_id)) is not None:
        answer["control"] = control  # the wrangler's request, until the worker is done
    return answer


@route(
    "PUT",
    r"/workers/{worker_id:\d+}/status",
    body=s.WorkerSwitch,
    response=s.WorkerObject,
    errors=(404, 422),
)
async def switch_worker(ctx: Ctx) -> Json:
    """Enable or disable a worker (a disabled one finishes its task, then gets no more)."""
    b: s.WorkerSwitch = ctx.body
    row = ctx.service.set_worker_enabled(
        ctx.path_int("worker_id"), b.status == WorkerStatus.ENABLED.value
    )
    return shapes.worker(row)


@route(
    "PUT",
    r"/workers/{worker_id:\d+}/tags",
    body=s.WorkerTags,
    response=s.WorkerObject,
    errors=(404, 422),
)
async def set_worker_tags(ctx: Ctx) -> Json:
    """Set a worker's tags (replacing those its `--tags` offered): jobs naming tags go
    only to workers that have them all."""
    b: s.WorkerTags = ctx.body
    return shapes.worker(ctx.service.set_worker_tags(ctx.path_int("worker_id"), b.tags))


@route(
    "POST",
    r"/workers/{worker_id:\d+}/wake",
    response=s.Woken,
    errors=(404, 409),
)
async def wake_worker(ctx: Ctx) -> Json:
    """Wake a sleeping worker with Wake-on-LAN magic packets to its MAC address(es)."""
    return {"sent": ctx.service.wake_worker(ctx.path_int("worker_id"))}


@route(
    "PUT",
    r"/workers/{worker_id:\d+}/schedule",
    body=s.WorkerScheduleBody,
    response=s.WorkerObject,
    errors=(404, 422),
)
async def set_worker_schedule(ctx: Ctx) -> Json:
    """Set (or with null, clear) a worker's sleep schedule: outside its ranges it takes
    no new work, and its task at the edge finishes or is requeued (`on_end`)."""
    b: s.WorkerScheduleBody = ctx.body
    schedule = None if b.schedule is None else b.schedule.model_dump()
    row = ctx.service.set_worker_schedule(ctx.path_int("worker_id"), schedule)
    return shapes.worker(row)


@route(
    "POST",
    r"/workers/{worker_id:\d+}/control",
    body=s.WorkerControlRequest,
    response=s.WorkerObject,
    errors=(404, 409, 422),
)
async def control_worker(ctx: Ctx) -> Json:
    """Ask a worker to stop taking work, restart its agent, or shut down or reboot its
    machine (only with its owner's --allow-power), `now` (its task requeued) or
    `after_task`; `resume` withdraws the request or ends a stop. The worker's
    `control` shows the request and the worker's acknowledgement until it is done."""
    b: s.WorkerControlRequest = ctx.body
    return shapes.worker(ctx.service.control_worker(ctx.path_int("worker_id"), b.action, b.when))


@route("DELETE", r"/workers/{worker_id:\d+}", response=s.Deleted, errors=(404,))
async def forget_worker(ctx: Ctx) -> Json:
    """Forget a worker: its task goes back to the queue and its secret stops working."""
    worker_id = ctx.path_int("worker_id")
    ctx.service.forget_worker(worker_id)
    return {"id": worker_id, "deleted": True}
