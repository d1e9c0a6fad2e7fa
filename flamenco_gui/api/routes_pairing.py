"""Pairing: the wrangler issues a short code; a new worker trades it for its own secret.

`POST /pairing` is the one write route without a token: the code in its body is the
credential (see farm/pairing.py for why that is safe). It answers exactly what
`POST /workers` answers, so a paired worker holds a worker secret, never the farm token.
"""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import Field

from flamenco_gui.api import schemas as s
from flamenco_gui.api.routes_workers import registered
from flamenco_gui.api.routing import Auth, Ctx, Json, route
from flamenco_gui.farm.errors import Forbidden, Unavailable
from flamenco_gui.farm.pairing import DEFAULT_TTL, MAX_TTL, PairingCodes, RateLimited

log = logging.getLogger(__name__)

PAIRINGS = web.AppKey("pairings", PairingCodes)
# The same words for a wrong, expired, used or malformed code: a refusal reveals nothing.
REFUSED = "pairing code not accepted (wrong, expired or already used): ask for a new one"


class PairingCodeRequest(s.Strict):
    ttl: float = Field(default=DEFAULT_TTL, ge=1, le=MAX_TTL, description="seconds")


class PairingCodeOut(s.Strict):
    code: str = Field(description="XXXX-XXXX; case, dashes and spaces are ignored")
    expires_at: float = Field(description="Unix time")
    expires_in: float = Field(description="seconds")


class PairingRequest(s.Strict):
    code: str = Field(max_length=64)
    hostname: str = Field(min_length=1, max_length=255)
    system: str = Field(default="", max_length=255)
    uuid: s.WorkerUuid = None
    accepts: s.Accepts = None
    node: s.Node = None


def _registry(ctx: Ctx) -> PairingCodes:
    registry = ctx.request.app.get(PAIRINGS)
    if registry is None:  # an app built without a Manager (some tests)
        raise Unavailable("pairing is not enabled on this server")
    return registry


@route(
    "POST",
    "/pairing-codes",
    status=201,
    body=PairingCodeRequest,
    response=PairingCodeOut,
    errors=(503,),
)
async def issue_pairing_code(ctx: Ctx) -> Json:
    """Issue a single-use pairing code (10 minutes by default) for a new worker."""
    b: PairingCodeRequest = ctx.body
    issued = _registry(ctx).issue(b.ttl)
    log.info("pairing code issued, valid %.0f s", issued.ttl)
    return {"code": issued.code, "expires_at": issued.expires_at, "expires_in": issued.ttl}


@route(
    "POST",
    "/pairing",
    auth=Auth.NONE,
    body=PairingRequest,
    response=dict[str, s.WorkerObject],
    errors=(403, 429, 503),
)
async def redeem_pairing_code(ctx: Ctx) -> Json:
    """Trade a pairing code for a worker registration (the answer of `POST /workers`)."""
    b: PairingRequest = ctx.body
    client = ctx.request.remote or "unknown"
    ctx.service.check_new_identity(b.uuid)  # before the code is spent
    try:
        accepted = _registry(ctx).redeem(b.code, client)
    except RateLimited as limited:
        log.warning("pairing attempt from %s refused: rate limited", client)
        return web.json_response(
            {"error": str(limited)},
            status=429,
            headers={"Retry-After": str(int(limited.retry_after + 0.999))},
        )
    if not accepted:
        log.warning("pairing attempt from %s (%r) refused", client, b.hostname)
        raise Forbidden(REFUSED)
    # A code buys one new identity, never an existing worker (whatever its name).
    row, secret = ctx.service.register_worker(
        b.hostname,
        b.system,
        ctx.request.remote,
        uuid=b.uuid,
        new_only=True,
        node=b.node,
        accepts=b.accepts,
    )
    log.info("worker %s (%d) paired from %s", row["hostname"], row["id"], client)
    return registered(ctx, row, secret)
