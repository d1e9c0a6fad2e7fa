"""The aiohttp application: routes from the declaration table, auth and error mapping."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from flamenco_gui.api import (  # noqa: F401 -- importing registers the routes
    routes_downloads,
    routes_events,
    routes_files,
    routes_identity,
    routes_jobs,
    routes_meta,
    routes_pairing,
    routes_statistics,
    routes_tasks,
    routes_workers,
)
from flamenco_gui.api.auth import (
    ANONYMOUS,
    PRINCIPAL,
    VIEWER,
    FarmToken,
    Principal,
    bearer,
    is_farm_token,
)
from flamenco_gui.api.keys import LOOP_LAG, SERVICE, TOKEN, TURNS, VIEWER_TOKEN
from flamenco_gui.api.routing import ROUTES, Auth, to_aiohttp
from flamenco_gui.api.turns import LoopTurns
from flamenco_gui.farm.errors import FarmError
from flamenco_gui.farm.service import FarmService
from flamenco_gui.loop_lag import LoopLagMonitor

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024  # a log batch of 10k long lines fits; anything bigger is abuse


def error_response(status: int, message: str, headers: Any = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _authenticate(request: web.Request, needed: Auth) -> Principal | web.Response:
    if needed == Auth.NONE:
        return ANONYMOUS
    token = bearer(request)
    if token is None:
        return error_response(401, "missing 'Authorization: Bearer <token>' header")
    if not token.isascii() or not token.isprintable():
        # Tokens are printable ASCII; anything else (bytes that are not even UTF-8,
        # which aiohttp hands over surrogate-escaped) cannot match one.
        return error_response(401, "invalid token: not printable ASCII")
    if is_farm_token(token, request.app[TOKEN]):
        return Principal()
    viewer = request.app.get(VIEWER_TOKEN)
    is_viewer = viewer is not None and is_farm_token(token, viewer)
    if is_viewer and needed == Auth.VIEWER:
        return VIEWER
    worker_id = None if is_viewer else request.app[SERVICE].authenticate_worker(token)
    if worker_id is not None and needed == Auth.WORKER:
        return Principal(worker_id=worker_id)
    if is_viewer or worker_id is not None:
        role = "the viewer token" if is_viewer else "a worker secret"
        needs = {
            Auth.FARM: "the farm token",
            Auth.VIEWER: "the farm or the viewer token",
            Auth.WORKER: "the farm token or a worker's own secret",
        }[needed]
        return error_response(403, f"{request.method} {request.path} needs {needs}, not {role}")
    return error_response(401, "invalid token")


@web.middleware
async def _middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    await request.app[TURNS].enter()
    route = getattr(request.match_info.handler, "route", None)
    if route is not None:
        principal = _authenticate(request, route.auth)
        if isinstance(principal, web.Response):
            return principal
        request[PRINCIPAL] = principal
    try:
        return await handler(request)
    except FarmError as exc:
        return error_response(exc.status, exc.message)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, f"body: larger than {MAX_BODY} bytes")
    except web.HTTPException as exc:
        if exc.status >= 400:
            reason = "no such route" if exc.status == 404 else exc.reason
            # Keep aiohttp's headers, e.g. `Allow` on a 405.
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return error_response(exc.status, f"{request.method} {request.path}: {reason}", allow)
        raise
    except ConnectionResetError:  # the client went away mid-request: nobody to answer
        log.info("%s %s: the client closed the connection", request.method, request.path)
        return error_response(400, "the connection closed before the request was read")
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal error (logged on the manager)")


def make_app(
    service: FarmService,
    token: FarmToken,
    loop_lag: LoopLagMonitor,
    viewer: FarmToken | None = None,
) -> web.Application:
    """`viewer`: the read-only token (none: only the farm token reads)."""
    app = web.Application(middlewares=[_middleware], client_max_size=MAX_BODY)
    app[SERVICE] = service
    app[TOKEN] = token
    if viewer is not None:
        app[VIEWER_TOKEN] = viewer
    app[LOOP_LAG] = loop_lag
    app[TURNS] = LoopTurns()
    for r in ROUTES:
        app.router.add_route(r.method, r.path, to_aiohttp(r))
    return app
