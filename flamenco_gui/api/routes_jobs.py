"""Jobs: a submission split into frame-chunk tasks, and the wrangler's job actions."""

from __future__ import annotations

from aiohttp import web

from flamenco_gui.api import schemas as s
from flamenco_gui.api.routing import Auth, Ctx, Json, route
from flamenco_gui.farm.errors import NotFound
from flamenco_gui.rows import BlocklistRow


@route(
    "POST",
    "/jobs",
    status=201,
    body=s.JobCreate,
    response=s.Job,
    errors=(413, 422, 503),
    provides="job_id",
)
async def create_job(ctx: Ctx) -> Json:
    """Submit a job: its frame range is split into tasks of `chunk_size` frames. A
    `manager` job's files must be uploaded first (docs/storage.md)."""
    b: s.JobCreate = ctx.body
    return await ctx.service.submit_job(
        name=b.name,
        type=b.type,
        settings=b.settings,
        priority=b.priority,
        chunk_size=b.chunk_size,
        preview_first=b.preview_first,
        tags=b.tags,
        depends_on=b.depends_on,
        storage=b.storage,
        files=[f.model_dump() for f in b.files],
        skip_existing=b.skip_existing,
    )


@route("GET", "/jobs", auth=Auth.VIEWER, query=s.JobQuery, response=s.JobPage)
async def list_jobs(ctx: Ctx) -> Json:
    """List jobs with their status and progress, a page at a time."""
    q: s.JobQuery = ctx.query
    rows, total = ctx.service.list_jobs(status=q.status, limit=q.limit, offset=q.offset)
    return {"jobs": rows, "total": total, "limit": q.limit, "offset": q.offset}


@route("GET", r"/jobs/{job_id:\d+}", auth=Auth.VIEWER, response=s.Job, errors=(404,))
async def get_job(ctx: Ctx) -> Json:
    """One job with its status, progress and task counts; its tasks are paged through
    `GET /tasks?job_id=`."""
    return ctx.service.get_job(ctx.path_int("job_id"))


@route(
    "POST", r"/jobs/{job_id:\d+}/actions", body=s.JobAction, response=s.Job, errors=(404, 409, 422)
)
async def job_action(ctx: Ctx) -> Json:
    """Pause, resume, cancel or requeue a job's tasks (or only the failed ones)."""
    b: s.JobAction = ctx.body
    return await ctx.service.job_action(ctx.path_int("job_id"), b.action)


@route("PATCH", r"/jobs/{job_id:\d+}", body=s.JobPatch, response=s.Job, errors=(404, 422))
async def patch_job(ctx: Ctx) -> Json:
    """Change a job's priority."""
    b: s.JobPatch = ctx.body
    return await ctx.service.set_job_priority(ctx.path_int("job_id"), b.priority)


@route("DELETE", r"/jobs/{job_id:\d+}", response=s.Deleted, errors=(404,))
async def delete_job(ctx: Ctx) -> Json:
    """Delete a job and its tasks; running ones are stopped on their workers."""
    job_id = ctx.path_int("job_id")
    await ctx.service.delete_job(job_id)
    return {"id": job_id, "deleted": True}


@route(
    "GET",
    r"/jobs/{job_id:\d+}/blocklist",
    auth=Auth.VIEWER,
    response=list[s.BlocklistEntry],
    errors=(404,),
)
async def get_blocklist(ctx: Ctx) -> Json:
    """Workers kept off this job because they failed too many of its tasks."""
    return _entries(ctx.service.job_blocklist(ctx.path_int("job_id")))


@route(
    "DELETE",
    r"/jobs/{job_id:\d+}/blocklist",
    query=s.BlocklistQuery,
    response=list[s.BlocklistEntry],
    errors=(404,),
)
async def clear_blocklist(ctx: Ctx) -> Json:
    """Let blocklisted workers back on this job (all, or the one `worker_id`)."""
    q: s.BlocklistQuery = ctx.query
    return _entries(ctx.service.clear_blocklist(ctx.path_int("job_id"), q.worker_id))


def _entries(rows: list[BlocklistRow]) -> Json:
    return [{k: r[k] for k in ("worker_id", "hostname", "created", "reason")} for r in rows]


@route(
    "GET", r"/jobs/{job_id:\d+}/previews", auth=Auth.VIEWER, response=list[s.Preview], errors=(404,)
)
async def list_previews(ctx: Ctx) -> Json:
    """The job's newest frame thumbnails, oldest first."""
    return ctx.service.job_previews(ctx.path_int("job_id"))


@route(
    "GET", r"/jobs/{job_id:\d+}/preview", auth=Auth.VIEWER, query=s.PreviewQuery, response=bytes,
    content_type="image/jpeg", errors=(404,),
)  # fmt: skip
async def get_preview(ctx: Ctx) -> web.Response:
    """One thumbnail: of `frame`, or the latest (the highest frame kept)."""
    job_id = ctx.path_int("job_id")
    q: s.PreviewQuery = ctx.query
    frame = q.frame
    if frame is None:
        kept = ctx.service.job_previews(job_id)
        if not kept:
            raise NotFound(f"job {job_id} has no preview yet")
        frame = max(p["frame"] for p in kept)
    return web.Response(body=ctx.service.job_preview(job_id, frame), content_type="image/jpeg")


@route(
    "GET", r"/jobs/{job_id:\d+}/frames", auth=Auth.VIEWER, query=s.FrameQuery,
    response=s.FramePage, errors=(404,),
)  # fmt: skip
async def list_frames(ctx: Ctx) -> Json:
    """The job's per-frame records, frames in order; `?format=csv` for all of them as CSV."""
    job_id = ctx.path_int("job_id")
    q: s.FrameQuery = ctx.query
    if q.format == "csv":
        text = await ctx.service.job_frames_csv(job_id)
        return web.Response(
            text=text,
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="job-{job_id}-frames.csv"'},
        )
    rows, total = ctx.service.job_frames(job_id, q.limit, q.offset)
    return {"frames": rows, "total": total, "limit": q.limit, "offset": q.offset}


@route(
    "GET", r"/jobs/{job_id:\d+}/attempts", auth=Auth.VIEWER, response=list[s.Attempt],
    errors=(404,),
)  # fmt: skip
async def list_attempts(ctx: Ctx) -> Json:
    """Every attempt of every task of the job: worker, start, end, outcome and reason."""
    return ctx.service.job_attempts(ctx.path_int("job_id"))


@route(
    "POST", r"/jobs/{job_id:\d+}/check-frames", response=s.FrameCheck, errors=(404, 422)
)  # fmt: skip
async def check_frames(ctx: Ctx) -> Json:
    """Which of the job's frames are missing or broken (truncated, undecodable, …)."""
    return await ctx.service.check_frames(ctx.path_int("job_id"))


@route(
    "POST", r"/jobs/{job_id:\d+}/rerender", body=s.Rerender, response=s.Job,
    errors=(404, 422),
)  # fmt: skip
async def rerender(ctx: Ctx) -> Json:
    """Render frames again: the given ones, or by default the missing and broken ones."""
    b: s.Rerender = ctx.body
    return await ctx.service.rerender(ctx.path_int("job_id"), b.frames)
