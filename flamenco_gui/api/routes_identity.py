"""The manager's identity, so that a worker can tell its own manager from another.

Anyone on a LAN can advertise `_flamenco._tcp`. A worker that found a manager by
discovery asks `GET /identity?worker_id=&nonce=` before it sends any credential: the
answer names the farm (a random id made on the manager's first start, shown in the
window, pinned by the worker when it registered) and proves the manager knows this
worker: HMAC-SHA256 keyed with the hash of the worker's secret (all the manager keeps
of it) over the nonce and the farm id. A manager that does not know the worker cannot
make the proof, and the worker's secret never leaves the worker. See docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web
from pydantic import BaseModel, Field

from flamenco_gui.api import schemas as s
from flamenco_gui.api.routing import Auth, Ctx, Json, route

FARM_ID = web.AppKey("farm_id", str)


class IdentityQuery(s.Strict):
    worker_id: s.Id | None = None
    nonce: str = Field(min_length=16, max_length=128, pattern=r"^[0-9a-f]+$")


class Identity(BaseModel):
    farm: str = Field(description="this farm's id, as the window shows it")
    proof: str | None = Field(
        description="HMAC-SHA256(sha256(worker secret), nonce + ':' + farm), hex; "
        "null for an unknown worker"
    )


def proof(secret_hash: str, nonce: str, farm: str) -> str:
    """What both sides compute: the worker from its secret, the manager from its hash."""
    return hmac.new(secret_hash.encode(), f"{nonce}:{farm}".encode(), hashlib.sha256).hexdigest()


@route("GET", "/identity", auth=Auth.NONE, query=IdentityQuery, response=Identity)
async def identity(ctx: Ctx) -> Json:
    """This farm's id, and proof that this manager knows the asking worker."""
    q: IdentityQuery = ctx.query
    farm = ctx.request.app.get(FARM_ID, "")
    digest = ctx.service.worker_secret_hash(q.worker_id) if q.worker_id is not None else None
    return {"farm": farm, "proof": proof(digest, q.nonce, farm) if digest else None}
