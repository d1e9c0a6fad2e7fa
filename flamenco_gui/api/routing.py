"""Route declarations: one table that serves aiohttp, authentication and OpenAPI.

Each handler is declared with its method, path, who may call it, and the pydantic
models of its body, query and answer. The wrapper validates input before the handler
runs, so handlers only see typed, checked values; the OpenAPI generator and the auth
test read the same table, so neither can miss a route.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ValidationError

from flamenco_gui.api.auth import PRINCIPAL, Principal
from flamenco_gui.api.keys import SERVICE
from flamenco_gui.api.schemas import MAX_ID
from flamenco_gui.farm.compiling import field_error
from flamenco_gui.farm.errors import BadRequest, FarmError, Invalid, NotFound, TooLarge
from flamenco_gui.farm.service import FarmService
from flamenco_gui.limits import LIMITS, MAX_JSON_DEPTH


class SlowBody(FarmError):
    """The body did not arrive in time (408)."""

    status = 408


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
    # What to undo if the answer cannot be delivered (the client went away before it
    # was written): a task claimed for a pull goes back to the queue at once.
    undo: list[Callable[[], None]] = field(default_factory=list)
    # What to do once the answer is written (or could not be).
    after: list[Callable[[], None]] = field(default_factory=list)

    async def raw_body(self) -> bytes:
        """A non-JSON body (a preview), within body_timeout like every other body."""
        return await _read_in_time(self.request)

    def connected(self) -> bool:
        transport = self.request.transport
        return transport is not None and not transport.is_closing()

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


def _slow_body() -> SlowBody:
    return SlowBody(f"body: not received within body_timeout ({LIMITS.body_timeout:g} s)")


async def _read_in_time(request: web.Request) -> bytes:
    """The whole body, within `body_timeout` of its headers. A small body has usually
    arrived with them: read at once, without the timer a timeout costs (a worker's
    every report is such a body; under qasync a timer is a Qt timer)."""
    if request.content.is_eof():
        return await request.read()
    try:
        async with asyncio.timeout(LIMITS.body_timeout):  # no task, as wait_for makes
            return await request.read()
    except TimeoutError as exc:
        raise _slow_body() from exc


async def _read_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """Strict JSON validation: `false` is not an integer and "3" is not a number.

    The body must arrive within `body_timeout` of its headers (a client trickling it
    in holds a connection and a handler); its nesting is bounded by the parser itself."""
    if request.content_type in FORM_TYPES:
        try:
            async with asyncio.timeout(LIMITS.body_timeout):
                return await _read_form(request, model)
        except TimeoutError as exc:
            raise _slow_body() from exc
    raw = await _read_in_time(request)
    try:
        # No body at all is an empty object: the 2015 `PATCH /tasks/1` sends none.
        return model.model_validate_json(raw or b"{}", strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            if "recursion limit" in first["msg"]:
                raise TooLarge(
                    f"body: JSON nested deeper than max_json_depth ({MAX_JSON_DEPTH})"
                ) from exc
            raise BadRequest(f"body: not valid JSON ({first['msg']})") from exc
        if first["type"] == "model_type" and not first["loc"]:
            raise Invalid("body: must be a JSON object") from exc
        raise field_error(exc) from exc


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _read_form(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """A form body, as every 2015 client sent (Flask-RESTful's reqparse read both).

    Form values are all text, so they are validated in pydantic's lax mode ("3" is the
    integer 3); the fields, limits and errors are the JSON body's."""
    try:
        form = await request.post()
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        raise BadRequest(f"body: not a valid form ({exc})") from exc
    values: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            raise Invalid(f"{key}: a file is not accepted here")
        values[key] = value
    try:
        return model.model_validate(values, strict=False)
    except ValidationError as exc:
        raise field_error(exc) from exc


def _read_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise field_error(exc, "query") from exc


async def _deliver_or_undo(ctx: Ctx, response: web.Response) -> None:
    """Write the answer now, so that a failure to deliver it is seen here and undone."""
    try:
        if not ctx.connected():
            raise ConnectionResetError("the client closed the connection")
        await response.prepare(ctx.request)
        await response.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        for undo in ctx.undo:
            undo()
        raise


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
        try:
            batch = service.batch()
            result = await r.handler(ctx)
            await batch.committed()
            if isinstance(result, web.StreamResponse):
                return result
            if r.response is None:
                return web.Response(status=r.status)
            response = web.json_response(result, status=r.status)
            if ctx.undo:
                await _deliver_or_undo(ctx, response)
            return response
        finally:
            for after in ctx.after:
                after()

    handle.route = r  # type: ignore[attr-defined]
    return handle
