"""`GET /events`: every job, task and worker change as server-sent events.

Each client gets a bounded queue fed by the event bus. A client too slow to keep up
is sent `event: overflow` and disconnected rather than letting its queue grow without
bound; it reconnects and re-reads the state it needs.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from flamenco_gui.api import shapes
from flamenco_gui.api.routing import Auth, Ctx, route
from flamenco_gui.farm.events import Change

QUEUE_LIMIT = 10_000
KEEPALIVE = 15.0  # seconds between comment lines, so proxies keep the stream open
_OVERFLOW = object()


def _payload(change: Change) -> dict[str, Any]:
    row = change.row
    if row is not None and change.kind == "task":
        row = shapes.task(row)
    elif row is not None and change.kind == "worker":
        row = shapes.worker(row)
    return {"kind": change.kind, "id": change.id, "deleted": row is None, "row": row}


@route("GET", "/events", auth=Auth.VIEWER, response=str, content_type="text/event-stream")
async def events(ctx: Ctx) -> web.StreamResponse:
    """Server-sent events: `event: job|task|worker|farm`, data the changed object as JSON."""
    queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_LIMIT + 1)

    def on_change(change: Change) -> None:
        if queue.qsize() < QUEUE_LIMIT:
            queue.put_nowait(change)
        elif not queue.full():
            queue.put_nowait(_OVERFLOW)

    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(ctx.request)
    unsubscribe = ctx.service.events.subscribe(on_change)
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is _OVERFLOW:
                await response.write(b"event: overflow\ndata: {}\n\n")
                break
            data = json.dumps(_payload(item), separators=(",", ":"))
            await response.write(f"event: {item.kind}\ndata: {data}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        unsubscribe()
    return response
