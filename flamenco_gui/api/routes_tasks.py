"""Tasks: the 2015 `POST/PATCH/DELETE /tasks`, plus listing, detail and logs."""

from __future__ import annotations

from contextlib import suppress

from aiohttp import web

from flamenco_gui.api import schemas as s
from flamenco_gui.api import shapes
from flamenco_gui.api.routing import Auth, Ctx, Json, route
from flamenco_gui.farm.errors import Forbidden, NotFound


@route(
    "POST",
    "/tasks",
    status=202,
    body=s.TaskCreate,
    response=s.SeedTask,
    errors=(422,),
    provides="task_id",
)
async def create_task(ctx: Ctx) -> Json:
    """Create a task (2015 API): the compiler named by `type` reads `settings`."""
    b: s.TaskCreate = ctx.body
    row = ctx.service.create_task(
        type=b.type, settings=b.settings, priority=b.priority, parser=b.parser, task_id=b.task_id
    )
    return shapes.seed_task(row)


@route("GET", "/tasks", auth=Auth.VIEWER, query=s.TaskQuery, response=s.TaskPage)
async def list_tasks(ctx: Ctx) -> Json:
    """List tasks, filtered by status, job or worker, a page at a time."""
    q: s.TaskQuery = ctx.query
    rows, total = ctx.service.list_tasks(
        status=q.status, job_id=q.job_id, worker_id=q.worker_id, limit=q.limit, offset=q.offset
    )
    return {
        "tasks": [shapes.task(r) for r in rows],
        "total": total,
        "limit": q.limit,
        "offset": q.offset,
    }


@route("GET", r"/tasks/{task_id:\d+}", auth=Auth.WORKER, response=s.TaskDetail, errors=(404,))
async def get_task(ctx: Ctx) -> Json:
    """One task with its commands and its history of attempts (a worker: only its own)."""
    task_id = ctx.path_int("task_id")
    row = ctx.service.get_task(task_id)
    worker_id = ctx.principal.worker_id
    if worker_id is not None and (row["worker_id"] != worker_id or row["status"] != "rendering"):
        raise Forbidden(f"task {task_id}: a worker may only read the task it is rendering")
    answer = shapes.task(row)
    if worker_id is not None:
        answer["commands"] = ctx.service.commands_for(row, worker_id)  # its platform's paths
    waiting = None
    if row["status"] == "queued" and row["job_id"] is not None:
        with suppress(NotFound):  # a job being deleted
            waiting = ctx.service.get_job(row["job_id"]).get("waiting_reason")
    return answer | {
        "history": shapes.history(ctx.service.task_history(task_id)),
        "depends_on": ctx.service.task_dependencies(task_id),
        "waiting_reason": waiting,
        "storage": ctx.service.job_storage(row["job_id"]),
        "frame_check": ctx.service.frame_rules_for(row),
    }


@route(
    "PATCH",
    r"/tasks/{task_id:\d+}",
    auth=Auth.WORKER,
    status=204,
    body=s.TaskPatch,
    errors=(404, 409, 422),
)
async def patch_task(ctx: Ctx) -> None:
    """Partially update a task (2015 API); a worker must hold the task's lease."""
    body: s.TaskPatch = ctx.body
    if not ctx.principal.is_farm and body.priority is not None:
        raise Forbidden("priority: only the wrangler may change a task's priority")
    task_id = ctx.path_int("task_id")
    fields = body.model_dump(exclude_unset=True)
    log = fields.pop("log", None)
    if log:  # 2015: the worker's output rides on the update; logged before a status ends it
        ctx.service.append_log(task_id, log.splitlines(), ctx.principal.worker_id, body.lease)
    ctx.service.update_task(task_id, fields, ctx.principal.worker_id)


@route("DELETE", r"/tasks/{task_id:\d+}", status=202, response=s.Deleted, errors=(404,))
async def delete_task(ctx: Ctx) -> Json:
    """Delete a task (2015 API); a running one is stopped on its worker first."""
    task_id = ctx.path_int("task_id")
    ctx.service.delete_task(task_id)
    return {"id": task_id, "deleted": True}


@route(
    "POST",
    r"/tasks/{task_id:\d+}/log",
    auth=Auth.WORKER,
    status=204,
    body=s.LogAppend,
    errors=(404, 409, 422),
)
async def append_log(ctx: Ctx) -> None:
    """Append lines to a task's log (from the worker that holds its lease)."""
    body: s.LogAppend = ctx.body
    ctx.service.append_log(
        ctx.path_int("task_id"), body.lines, ctx.principal.worker_id, body.lease, body.seq
    )


@route(
    "GET",
    r"/tasks/{task_id:\d+}/log",
    auth=Auth.VIEWER,
    query=s.LogQuery,
    response=str,
    content_type="text/plain",
    errors=(404,),
)
async def read_log(ctx: Ctx) -> web.Response:
    """A task's log as text: all of it, the last `tail` lines, or a byte range."""
    q: s.LogQuery = ctx.query
    data, size = ctx.service.read_log(
        ctx.path_int("task_id"), tail=q.tail, offset=q.offset, limit=q.limit
    )
    return web.Response(
        body=data, content_type="text/plain", charset="utf-8", headers={"X-Log-Size": str(size)}
    )


@route(
    "POST", r"/tasks/{task_id:\d+}/preview", auth=Auth.WORKER, status=201, query=s.PreviewUpload,
    raw_body="image/jpeg", response=s.Preview, errors=(404, 409),
)  # fmt: skip
async def upload_preview(ctx: Ctx) -> Json:
    """A thumbnail of a frame the task just saved (JPEG, at most 512 KiB, 1024 px a side)."""
    q: s.PreviewUpload = ctx.query
    data = await ctx.raw_body()
    return ctx.service.add_preview(
        ctx.path_int("task_id"), ctx.principal.worker_id, q.lease, q.frame, data
    )
