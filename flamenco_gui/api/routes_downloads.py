"""Builds for workers to update themselves with, and the versions workers report.

- `GET /downloads`: every build on offer (version, platform, architecture, SHA-256).
- `GET /downloads/{name}`: one build's bytes.
- `PUT /workers/{id}/version`: a worker says which build it runs.
- `GET /worker-versions`: what every worker said, with the newest build for it.

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
from flamenco_gui.downloads.versions import WorkerVersions
from flamenco_gui.farm.errors import Forbidden, NotFound, Unavailable
from flamenco_gui.platform_names import newer, version_key

DOWNLOADS = web.AppKey("downloads", Catalogue)
WORKER_VERSIONS = web.AppKey("worker_versions", WorkerVersions)


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


def _versions(ctx: Ctx) -> WorkerVersions:
    versions = ctx.request.app.get(WORKER_VERSIONS)
    if versions is None:
        raise Unavailable("worker versions are not kept on this server")
    return versions


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
    body: VersionReport = ctx.body
    ctx.service.get_worker(worker_id)  # 404 for a worker that does not exist
    _versions(ctx).report(worker_id, body.model_dump())
    return body.model_dump()


@route(
    "GET", "/worker-versions", auth=Auth.VIEWER, response=dict[str, WorkerVersionOut], errors=(503,)
)
async def worker_versions(ctx: Ctx) -> dict[str, Any]:
    """Which build each worker runs, and the newer one on offer for it, if any."""
    builds = await _catalogue(ctx).builds()
    out = {}
    for worker_id, report in _versions(ctx).all().items():
        offers = [
            b
            for b in builds
            if (b.os, b.arch) == (report["platform"], report["arch"])
            and newer(b.version, report["version"])
        ]
        best = max(offers, key=lambda b: version_key(b.version), default=None)
        out[str(worker_id)] = {**report, "update": best.version if best else None}
    return out
