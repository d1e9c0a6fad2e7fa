"""Health, version and the OpenAPI document."""

from __future__ import annotations

from functools import cache

from aiohttp import web

from flamenco_gui import __version__
from flamenco_gui.api import schemas as s
from flamenco_gui.api.keys import LOOP_LAG
from flamenco_gui.api.routing import Auth, Ctx, Json, route
from flamenco_gui.resources import resource_path

API_VERSION = "1.0"


@route("GET", "/health", auth=Auth.NONE, query=s.HealthQuery, response=s.Health)
async def health(ctx: Ctx) -> Json:
    """Liveness, and the event loop's lag (p99 and max over the last minute, or over the
    last `lag_window` seconds: what a benchmark or a monitor asks of one load)."""
    q: s.HealthQuery = ctx.query
    error = ctx.service.storage_error
    return {
        "status": "degraded" if error else "ok",
        "version": __version__,
        "loop_lag": ctx.request.app[LOOP_LAG].stats(q.lag_window),
        "storage_error": error,
        "files_bytes": ctx.service.file_store.usage.bytes if ctx.service.file_store else 0,
    }


@route("GET", "/version", auth=Auth.NONE, response=s.Version)
async def version(ctx: Ctx) -> Json:
    """The manager's version and its API version."""
    return {"version": __version__, "api": API_VERSION}


@route("GET", "/openapi.json", auth=Auth.VIEWER, response=dict)
async def openapi(ctx: Ctx) -> Json:
    """This API described as OpenAPI 3.1."""
    from flamenco_gui.api.openapi import spec

    return spec()


@route("GET", "/settings", auth=Auth.VIEWER, response=s.FarmSettings)
async def get_settings(ctx: Ctx) -> Json:
    """The farm's timeouts and retry limits."""
    return ctx.service.settings()


@route("PATCH", "/settings", body=s.SettingsPatch, response=s.FarmSettings, errors=(422,))
async def patch_settings(ctx: Ctx) -> Json:
    """Change timeouts and retry limits; in force at once and kept across restarts."""
    body: s.SettingsPatch = ctx.body
    return ctx.service.update_settings(body.model_dump(exclude_none=True))


@route("GET", "/path-variables", auth=Auth.VIEWER, response=s.PathVariables)
async def get_path_variables(ctx: Ctx) -> Json:
    """Two-way path variables: a storage place as each platform mounts it."""
    return ctx.service.path_variables()


@route("PUT", "/path-variables", body=s.PathVariables, response=s.PathVariables, errors=(422,))
async def put_path_variables(ctx: Ctx) -> Json:
    """Replace the path variables (used by jobs submitted from then on)."""
    body: s.PathVariables = ctx.body
    return ctx.service.set_path_variables(body.model_dump(exclude_none=True))


@route("GET", "/", auth=Auth.NONE, response=str, content_type="text/html")
async def status_page(ctx: Ctx) -> web.Response:
    """A read-only status page for a phone on the LAN; it holds no data itself and
    reads the farm (with the token) through /jobs, /workers and /events."""
    return web.Response(body=_status_html(), content_type="text/html", charset="utf-8")


@cache
def _status_html() -> bytes:
    return resource_path("status.html").read_bytes()
