"""A thin HTTP client for the API tests, and the request bodies they send.

`Api` wraps one aiohttp session (keep-alive, as workers use it) and sends the farm token
unless told otherwise; `Worker` is a registered worker calling with its own secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

FARM_TOKEN = "test-farm-token-0123456789"
MAX_ATTEMPTS = 3

_FARM = object()  # sentinel: send the farm token
_NO_BODY = object()  # sentinel: send no body at all


@dataclass
class Reply:
    status: int
    headers: Any
    raw: bytes

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def error(self) -> str:
        """The `error` message of a 4xx answer (asserts the documented error shape)."""
        body = self.json
        assert isinstance(body, dict), f"error answer is not a JSON object: {self.raw[:300]!r}"
        assert set(body) == {"error"}, f"error answer has other keys: {body}"
        assert isinstance(body["error"], str) and body["error"], body
        return body["error"]

    def __repr__(self) -> str:  # shows up in assertion messages
        return f"<Reply {self.status} {self.raw[:500]!r}>"


class Api:
    """One client of the manager. `token=None` sends no Authorization header."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str | None) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.token = token

    def as_(self, token: str | None) -> Api:
        """The same connection pool, another caller (a worker's secret, no token, ...)."""
        return Api(self.session, self.base_url, token)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        *,
        data: bytes | str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        token: Any = _FARM,
    ) -> Reply:
        token = self.token if token is _FARM else token
        hdrs: dict[str, str] = {}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if body is not _NO_BODY:
            data = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        async with self.session.request(
            method, self.base_url + path, data=data, params=params, headers=hdrs
        ) as resp:
            raw = await resp.read()
            return Reply(resp.status, resp.headers, raw)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = _NO_BODY, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def patch(self, path: str, body: Any = _NO_BODY, **kw: Any) -> Reply:
        return await self.call("PATCH", path, body, **kw)

    async def put(self, path: str, body: Any = _NO_BODY, **kw: Any) -> Reply:
        return await self.call("PUT", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, **kw)

    # -- the usual steps, each asserting its own 2xx ---------------------------------

    async def register(self, hostname: str, system: str = "Linux 6.1") -> Worker:
        r = await self.post("/workers", {"hostname": hostname, "system": system})
        assert r.status == 200, r
        obj = r.json[hostname]
        secret = obj["secret"]
        return Worker(id=obj["id"], hostname=hostname, secret=secret, api=self.as_(secret))

    async def seed_task(self, priority: int = 0, **settings: Any) -> dict[str, Any]:
        r = await self.post("/tasks", seed_task_body(priority=priority, **settings))
        assert r.status == 202, r
        return r.json

    async def job(
        self,
        name: str = "job",
        *,
        frames: tuple[int, int] = (1, 1),
        chunk_size: int = 1,
        priority: int = 50,
        argv: list[str] | None = None,
    ) -> dict[str, Any]:
        r = await self.post(
            "/jobs",
            job_body(name, frames=frames, chunk_size=chunk_size, priority=priority, argv=argv),
        )
        assert r.status == 201, r
        return r.json

    async def task(self, task_id: int) -> dict[str, Any]:
        r = await self.get(f"/tasks/{task_id}")
        assert r.status == 200, r
        return r.json

    async def tasks(self, **params: Any) -> dict[str, Any]:
        r = await self.get("/tasks", params={k: str(v) for k, v in params.items()})
        assert r.status == 200, r
        return r.json


@dataclass
class Worker:
    id: int
    hostname: str
    secret: str
    api: Api  # calls made with this worker's own secret

    async def pull(self, wait: float = 0, **extra: Any) -> dict[str, Any]:
        """`PATCH /workers/{id} {"status": "available"}`: the worker's next task."""
        body = {"status": "available", "wait": wait, **extra}
        r = await self.api.patch(f"/workers/{self.id}", body)
        assert r.status == 200, r
        return r.json

    async def report(self, task_id: int, **fields: Any) -> Reply:
        return await self.api.patch(f"/tasks/{task_id}", fields)

    async def complete(self, got: dict[str, Any]) -> None:
        """Report the task of a pull answer completed, under its lease (asserts 204)."""
        r = await self.report(got["task_id"], lease=got["lease"], status="completed")
        assert r.status == 204, r


def blender_settings(**over: Any) -> dict[str, Any]:
    return {
        "filepath": "/shots/010/anim.blend",
        "frame_start": 5,
        "frame_end": 10,
        "render_output": "/renders/010/frame_####",
        "format": "PNG",
    } | over


def seed_task_body(priority: int = 10, task_id: int = 1, **settings: Any) -> dict[str, Any]:
    """A 2015 `POST /tasks` body, as manager.rst shows it."""
    return {
        "priority": priority,
        "settings": json.dumps(blender_settings(**settings)),
        "task_id": task_id,
        "type": "blender_render",
        "parser": "blender_render",
    }


def job_body(
    name: str = "job",
    *,
    frames: tuple[int, int] = (1, 10),
    chunk_size: int = 3,
    priority: int = 50,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "command",
        "settings": {
            "argv": argv or ["echo", "{frame}"],
            "frame_start": frames[0],
            "frame_end": frames[1],
        },
        "priority": priority,
        "chunk_size": chunk_size,
    }
