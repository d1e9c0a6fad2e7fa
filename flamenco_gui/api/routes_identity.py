"""The manager's identity, so that a worker can tell its own manager from another.

Anyone on a LAN can advertise `_flamenco._tcp`. A worker that found a manager by
discovery asks `GET /identity?worker_id=&nonce=` before it sends any credential: the
answer names the farm (a random id made on the manager's first start, shown in the
window, pinned by the worker when it registered) and proves the manager knows this
worker: HMAC-SHA256 keyed with the hash of the worker's secret (all the manager keeps
of it) over the nonce, the farm id and the address the worker dialled (the `Host`
header). A manager that does not know the worker cannot make the proof, and the
worker's secret never leaves the worker. A rogue manager cannot relay the question to
the real one either: the real manager answers a proof only for a `Host` that is one of
its own addresses, and the worker checks it against the address it dialled (the
rogue's). See docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web
from pydantic import BaseModel, Field

from flamenco_gui.api import schemas as s
from flamenco_gui.api.routing import Auth, Ctx, Json, route

FARM_ID = web.AppKey("farm_id", str)
# The host names and addresses this manager answers to (a proof for any other `Host`
# would be one relayed by a manager in the middle). Absent: any (tests on loopback).
OWN_HOSTS = web.AppKey("own_hosts", frozenset)


class IdentityQuery(s.Strict):
    worker_id: s.Id | None = None
    nonce: str = Field(min_length=16, max_length=128, pattern=r"^[0-9a-f]+$")


class Identity(BaseModel):
    farm: str = Field(description="this farm's id, as the window shows it")
    proof: str | None = Field(
        description="HMAC-SHA256(sha256(worker secret), nonce + ':' + farm), hex; "
        "null for an unknown worker"
    )


def proof(secret_hash: str, nonce: str, farm: str, host: str) -> str:
    """What both sides compute: the worker from its secret and the `host:port` it
    dialled, the manager from the secret's hash and the `Host` it was asked on."""
    message = f"{nonce}:{farm}:{host.lower()}".encode()
    return hmac.new(secret_hash.encode(), message, hashlib.sha256).hexdigest()


@route("GET", "/identity", auth=Auth.NONE, query=IdentityQuery, response=Identity)
async def identity(ctx: Ctx) -> Json:
    """This farm's id, and proof that this manager knows the asking worker."""
    q: IdentityQuery = ctx.query
    farm = ctx.request.app.get(FARM_ID, "")
    digest = ctx.service.worker_secret_hash(q.worker_id) if q.worker_id is not None else None
    host = ctx.request.host
    own = ctx.request.app.get(OWN_HOSTS)
    if own is not None and (ctx.request.url.host or "").lower() not in own:
        digest = None  # asked on an address that is not ours: a relay
    return {"farm": farm, "proof": proof(digest, q.nonce, farm, host) if digest else None}
