"""Files that travel through the manager (`manager` storage, docs/storage.md).

- `POST /files/check`: which of these files the manager lacks, and how much of each
  it holds from an upload cut short (resume there).
- `PUT /files/{sha256}?size=&offset=`: upload one, streamed; kept once verified.
- `GET /files/{sha256}`: a worker fetches a file of the task it renders (Range works).
- `GET /tasks/{id}/files`: the job's manifest and output folder, for its worker.
- `POST /tasks/{id}/frames`: a saved frame, uploaded with PUT first, goes to the
  job's output folder on the manager.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import Field

from flamenco_gui.api import schemas as s
from flamenco_gui.api.routing import Auth, Ctx, Json, SlowBody, route
from flamenco_gui.farm.file_store import check_hash
from flamenco_gui.file_pipe import read_widely
from flamenco_gui.limits import LIMITS


class FileRef(s.Strict):
    sha256: s.Sha256
    size: s.FileSize


class FileCheck(s.Strict):
    files: list[FileRef] = Field(description=f"at most max_check_files ({LIMITS.max_check_files})")


class MissingFile(FileRef):
    offset: int = Field(description="bytes the manager already holds: resume the upload there")


class FileCheckAnswer(s.Strict):
    missing: list[MissingFile]


class UploadQuery(s.Strict):
    size: s.FileSize
    offset: s.FileSize = 0


class UploadAnswer(s.Strict):
    sha256: str
    size: int
    stored: bool = Field(description="verified and kept; false: send the rest from `offset`")
    offset: int


class Manifest(s.Strict):
    storage: str = Field(description="shared or manager")
    output: str = Field(description="the job's folder under the manager's output root")
    files: list[s.JobFileIn]


class FrameIn(s.Strict):
    path: str = Field(min_length=1, max_length=4096, description="relative to the output folder")
    sha256: s.Sha256
    lease: s.Id | None = None


class FrameAnswer(s.Strict):
    path: str = Field(description="where the frame is on the manager's machine")
    sha256: str


@route(
    "POST",
    "/files/check",
    auth=Auth.WORKER,
    body=FileCheck,
    response=FileCheckAnswer,
    errors=(413, 422, 503),
)
async def check_files(ctx: Ctx) -> Json:
    """Which of these files the manager lacks (upload only those)."""
    b: FileCheck = ctx.body
    missing = await ctx.service.files().missing([(f.sha256, f.size) for f in b.files])
    return {"missing": missing}


async def _chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The body as it arrives, chunk by chunk as received (file_pipe.py says why);
    a client silent for body_timeout is cut off."""
    content = request.content
    read_widely(request.transport, content)
    while True:
        try:
            async with asyncio.timeout(LIMITS.body_timeout):  # cheap: no task per chunk
                chunk, end_of_http_chunk = await content.readchunk()
        except TimeoutError as exc:
            raise SlowBody(
                f"body: nothing received for body_timeout ({LIMITS.body_timeout:g} s)"
            ) from exc
        if chunk:
            yield chunk
        elif not end_of_http_chunk:  # (b"", True) only marks a chunked body's chunk
            return


@route(
    "PUT", "/files/{sha256:[0-9a-f]+}", auth=Auth.WORKER, query=UploadQuery,
    raw_body="application/octet-stream", response=UploadAnswer,
    errors=(404, 408, 409, 413, 422, 503, 507),
)  # fmt: skip
async def upload_file(ctx: Ctx) -> Json:
    """Upload a file (or its rest from `offset`): streamed, kept once its bytes hash to
    its name. A worker sends its frames this way too."""
    q: UploadQuery = ctx.query
    sha = check_hash(ctx.request.match_info["sha256"])
    return await ctx.service.files().receive(sha, q.size, q.offset, _chunks(ctx.request))


@route(
    "GET", "/files/{sha256:[0-9a-f]+}", auth=Auth.WORKER, response=bytes,
    content_type="application/octet-stream", errors=(403, 404, 422, 503),
)  # fmt: skip
async def download_file(ctx: Ctx) -> web.StreamResponse:
    """A stored file, for the worker rendering a task of a job that uses it (Range works)."""
    path = ctx.service.files().readable(ctx.request.match_info["sha256"], ctx.principal.worker_id)
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})


@route(
    "GET", r"/tasks/{task_id:\d+}/files", auth=Auth.WORKER, response=Manifest,
    errors=(403, 404, 503),
)  # fmt: skip
async def task_files(ctx: Ctx) -> Json:
    """The files a worker lays out for the task it renders, and the output folder."""
    return ctx.service.files().manifest(ctx.path_int("task_id"), ctx.principal.worker_id)


@route(
    "POST", r"/tasks/{task_id:\d+}/frames", auth=Auth.WORKER, status=201, body=FrameIn,
    response=FrameAnswer, errors=(404, 409, 422, 503),
)  # fmt: skip
async def add_frame(ctx: Ctx) -> Json:
    """A frame the task saved (uploaded with PUT /files first) lands in the job's
    output folder on the manager's machine."""
    b: FrameIn = ctx.body
    return await ctx.service.files().place_frame(
        ctx.path_int("task_id"), ctx.principal.worker_id, b.lease, b.path, b.sha256
    )
