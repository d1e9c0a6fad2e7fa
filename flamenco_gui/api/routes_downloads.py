"""Builds for workers to update themselves with, and the versions workers report.

- `GET /downloads`: every build on offer (version, platform, architecture, SHA-256).
- `GET /downloads/{name}`: one build's bytes.
- `PUT /workers/{id}/version`: a worker says which build it runs.
- `GET /worker-versions`: what every worker said, with the newest build for it.
- `POST /workers/update`: "update all": every worker running an older one-file
  executable checks for its update at its next pull instead of at its next periodic
  check (farm/worker_updates.py).

The reported version is kept on the worker's row (so `GET /workers` and the window
show it); the builds are the manager's catalogue.

A worker's secret is enough to download (a render node updates itself with it); the
builds are the program anyone may have, so nothing secret is served.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from flamenco_gui.api import schemas as s
from flamenco_gui.api.routing import Auth, Ctx, route
from flamenco_gui.downloads.catalogue import Catalogue
from flamenco_gui.farm.errors import Forbidden, NotFound, Unavailable

DOWNLOADS = web.AppKey("downloads", Catalogue)


class BuildOut(s.Strict):
    name: str
    version: str
    platform: str = Field(description="linux, macos or windows")
    arch: str = Field(description="x86_64 or arm64")
    size: int
    sha256: str
    url: str


class BuildList(s.Strict):
    builds: list[BuildOut]


class VersionReport(s.Strict):
    version: str = Field(min_length=1, max_length=64)
    platform: str = Field(min_length=1, max_length=32)
    arch: str = Field(min_length=1, max_length=32)
    frozen: bool = Field(description="runs from the one-file executable (can update itself)")
    sha256: str | None = Field(default=None, max_length=64)


class WorkerVersionOut(VersionReport):
    reported_at: float
    update: str | None = Field(description="a newer build on offer for it, if any")


def _catalogue(ctx: Ctx) -> Catalogue:
    catalogue = ctx.request.app.get(DOWNLOADS)
    if catalogue is None:  # an app built without a Manager (some tests)
        raise Unavailable("downloads are not enabled on this server")
    return catalogue


class UpdateRequest(s.Strict):
    requested: list[int] = Field(
        description="the workers asked to check now: each runs an older one-file executable"
    )


@route("GET", "/downloads", auth=Auth.WORKER, response=BuildList, errors=(503,))
async def list_downloads(ctx: Ctx) -> dict[str, Any]:
    """The builds on offer for workers to update themselves with."""
    return {"builds": [b.describe() for b in await _catalogue(ctx).builds()]}


@route(
    "GET",
    "/downloads/{name}",
    auth=Auth.WORKER,
    response=bytes,
    content_type="application/octet-stream",
    errors=(404, 503),
)
async def download(ctx: Ctx) -> web.StreamResponse:
    """One build's bytes (check them against its `sha256` before running them)."""
    build = await _catalogue(ctx).find(ctx.request.match_info["name"])
    if build is None:
        raise NotFound(f"no build named {ctx.request.match_info['name']!r} is on offer")
    return web.FileResponse(build.path, headers={"Content-Type": "application/octet-stream"})


@route(
    "PUT",
    r"/workers/{worker_id:\d+}/version",
    auth=Auth.WORKER,
    body=VersionReport,
    response=VersionReport,
    errors=(403, 404, 422, 503),
)
async def report_version(ctx: Ctx) -> dict[str, Any]:
    """A worker says which build it runs."""
    worker_id = ctx.path_int("worker_id")
    if not ctx.principal.is_farm and ctx.principal.worker_id != worker_id:
        raise Forbidden(f"a worker may only report for itself, not worker {worker_id}")
    b: VersionReport = ctx.body
    ctx.service.report_worker_version(worker_id, b.version, b.platform, b.arch, b.frozen, b.sha256)
    return b.model_dump()


@route("GET", "/worker-versions", auth=Auth.VIEWER, response=dict[str, WorkerVersionOut])
async def worker_versions(ctx: Ctx) -> dict[str, Any]:
    """Which build each worker runs, and the newer one on offer for it, if any."""
    return {str(i): v for i, v in (await ctx.service.worker_versions()).items()}


@route("POST", "/workers/update", response=UpdateRequest)
async def update_all(ctx: Ctx) -> dict[str, Any]:
    """Update all: workers on an older one-file executable check for their update at
    their next pull (`check_update: true` in its answer), between tasks."""
    return {"requested": await ctx.service.request_worker_updates()}
