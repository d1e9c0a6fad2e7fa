"""Route declarations: one table that serves aiohttp, authentication and OpenAPI.

Each handler is declared with its method, path, who may call it, and the pydantic
models of its body, query and answer. The wrapper validates input before the handler
runs, so handlers only see typed, checked values; the OpenAPI generator and the auth
test read the same table, so neither can miss a route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from flamenco_gui.api.auth import PRINCIPAL, Principal
from flamenco_gui.api.keys import SERVICE
from flamenco_gui.api.schemas import MAX_ID
from flamenco_gui.farm.compiling import field_error
from flamenco_gui.farm.errors import Invalid, NotFound
from flamenco_gui.farm.service import FarmService


class Auth(Enum):
    """Who may call a route; the farm token may call every one (docs/security.md)."""

    NONE = "none"  # health, version, the status page, pairing (a code is its credential)
    FARM = "farm"  # the farm token only
    VIEWER = "viewer"  # reads: the farm token or the viewer token
    WORKER = "worker"  # the farm token or a worker's own secret, for itself only

    @property
    def roles(self) -> list[str]:
        """The roles the OpenAPI document lists for a route of this level."""
        return {
            Auth.NONE: ["anyone"],
            Auth.FARM: ["admin"],
            Auth.VIEWER: ["admin", "viewer"],
            Auth.WORKER: ["admin", "worker"],
        }[self]


@dataclass(slots=True)
class Ctx:
    """What a handler gets: the service, the caller, and validated input."""

    request: web.Request
    service: FarmService
    principal: Principal
    body: Any
    query: Any

    def path_int(self, name: str) -> int:
        value = int(self.request.match_info[name])
        if value > MAX_ID:  # no row can have it; SQLite could not even compare it
            raise NotFound(f"{name} {value} does not exist")
        return value


# A handler's answer: anything JSON-able, its shape declared by the route's `response`
# model (which the OpenAPI document and the response tests check).
Json = Any
Handler = Callable[[Ctx], Awaitable[Json]]


@dataclass(slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    auth: Auth
    summary: str
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None  # a pydantic model or type; None for an empty answer
    content_type: str = "application/json"
    errors: tuple[int, ...] = field(default=())
    provides: str | None = None  # the path parameter that the answer's `id` fills
    raw_body: str | None = None  # a non-JSON body's content type (the handler reads it)


ROUTES: list[Route] = []


def route(
    method: str,
    path: str,
    *,
    auth: Auth = Auth.FARM,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    content_type: str = "application/json",
    errors: tuple[int, ...] = (),
    provides: str | None = None,
    raw_body: str | None = None,
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        summary = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
        ROUTES.append(
            Route(
                method,
                path,
                fn,
                auth,
                summary,
                status,
                body,
                query,
                response,
                content_type,
                errors,
                provides,
                raw_body,
            )
        )
        return fn

    return register


async def _read_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """Strict JSON validation: `false` is not an integer and "3" is not a number."""
    raw = await request.read()
    try:
        # No body at all is an empty object: the 2015 `PATCH /tasks/1` sends none.
        return model.model_validate_json(raw or b"{}", strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise Invalid(f"body: not valid JSON ({first['msg']})") from exc
        if first["type"] == "model_type" and not first["loc"]:
            raise Invalid("body: must be a JSON object") from exc
        raise field_error(exc) from exc


def _read_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise field_error(exc, "query") from exc


def to_aiohttp(r: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        service = request.app[SERVICE]
        ctx = Ctx(
            request=request,
            service=service,
            principal=request[PRINCIPAL],
            body=await _read_body(request, r.body) if r.body else None,
            query=_read_query(request, r.query) if r.query else None,
        )
        # Changes share commits with other requests'; the answer waits for its commit.
        batch = service.batch()
        result = await r.handler(ctx)
        await batch.committed()
        if isinstance(result, web.StreamResponse):
            return result
        if r.response is None:
            return web.Response(status=r.status)
        return web.json_response(result, status=r.status)

    handle.route = r  # type: ignore[attr-defined]
    return handle
