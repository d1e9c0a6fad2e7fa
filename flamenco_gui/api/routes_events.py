"""`GET /events`: every job, task and worker change as server-sent events.

Each client gets a queue fed by the event bus, bounded by max_event_buffer. A client
too slow to keep up is sent `event: overflow` and disconnected rather than letting its
queue grow without bound, even while its writer waits on a full socket; it reconnects
and re-reads the state it needs. At most max_event_clients streams are open at once.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from flamenco_gui.api import shapes
from flamenco_gui.api.routing import Auth, Ctx, route
from flamenco_gui.farm.errors import TooMany
from flamenco_gui.farm.events import Change
from flamenco_gui.limits import LIMITS

KEEPALIVE = 15.0  # seconds between comment lines, so proxies keep the stream open
GONE_CHECK = 1.0  # seconds between checks that the client is still there
_OVERFLOW = b"event: overflow\ndata: {}\n\n"
_clients = 0  # streams open now (one manager per process)


def _payload(change: Change) -> dict[str, Any]:
    row = change.row
    if row is not None and change.kind == "task":
        row = shapes.task(row)
    elif row is not None and change.kind == "worker":
        row = shapes.worker(row)
    return {"kind": change.kind, "id": change.id, "deleted": row is None, "row": row}


def _drop(request: web.Request) -> None:
    """Send `overflow` and drop a client whose writer is stuck on a full socket.

    The event is written to the transport as one HTTP chunk (each of aiohttp's chunk
    writes is one `write` call, so the framing stays whole); the socket is then closed,
    and aborted if the client does not take even that within event_write_timeout."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return
    transport.write(b"%x\r\n%s\r\n" % (len(_OVERFLOW), _OVERFLOW))
    transport.close()
    asyncio.get_running_loop().call_later(LIMITS.event_write_timeout, transport.abort)


@route(
    "GET",
    "/events",
    auth=Auth.VIEWER,
    response=str,
    content_type="text/event-stream",
    errors=(429,),
)
async def events(ctx: Ctx) -> web.StreamResponse:
    """Server-sent events: `event: job|task|worker|farm`, data the changed object as JSON."""
    global _clients
    if _clients >= LIMITS.max_event_clients:
        raise TooMany(
            f"events: {_clients} streams open, max_event_clients ({LIMITS.max_event_clients})"
        )
    limit = LIMITS.max_event_buffer
    queue: asyncio.Queue[Change | None] = asyncio.Queue()
    dropped = False

    def on_change(change: Change) -> None:
        nonlocal dropped
        if dropped:
            return
        if queue.qsize() < limit:
            queue.put_nowait(change)
            return
        # max_event_buffer unsent: the client does not keep up (or does not read).
        dropped = True
        queue.put_nowait(None)
        _drop(ctx.request)

    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(ctx.request)
    unsubscribe = ctx.service.events.subscribe(on_change)
    _clients += 1
    try:
        await response.write(b": connected\n\n")
        quiet = 0.0
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), GONE_CHECK)
            except TimeoutError:
                # A client that went away is noticed within a second (aiohttp does not
                # cancel the handler), so it does not hold a max_event_clients place.
                transport = ctx.request.transport
                if transport is None or transport.is_closing():
                    break
                quiet += GONE_CHECK
                if quiet >= KEEPALIVE:
                    quiet = 0.0
                    await response.write(b": keep-alive\n\n")
                continue
            quiet = 0.0
            if item is None:
                break
            data = json.dumps(_payload(item), separators=(",", ":"))
            await response.write(f"event: {item.kind}\ndata: {data}\n\n".encode())
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        _clients -= 1
        unsubscribe()
    return response
