"""Who is calling, in one of three roles (docs/security.md):

- admin: the farm token (the wrangler, scripts, the window's own calls);
- worker: a worker's own secret, for its own registration, pull and the task it holds;
- viewer: the read-only token of the status page and dashboards.

Tokens are compared in constant time; worker secrets are kept only as hashes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Principal:
    """`worker_id` is the calling worker (None for the farm token and the viewer)."""

    worker_id: int | None = None
    viewer: bool = False

    @property
    def is_farm(self) -> bool:
        return self.worker_id is None and not self.viewer


ANONYMOUS = Principal(worker_id=-1)
VIEWER = Principal(viewer=True)
PRINCIPAL = web.RequestKey("principal", Principal)


@dataclass(slots=True)
class FarmToken:
    """The farm token, in a box so that rotating it takes effect at once everywhere."""

    value: str


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_farm_token(token: str, farm_token: FarmToken) -> bool:
    return hmac.compare_digest(token.encode(), farm_token.value.encode())
