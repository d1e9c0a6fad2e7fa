"""Who is calling: the farm token (wranglers, scripts, registration) or a worker secret.

Tokens are compared in constant time; worker secrets are kept only as hashes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Principal:
    """`worker_id` is None for the farm token; otherwise the calling worker."""

    worker_id: int | None = None

    @property
    def is_farm(self) -> bool:
        return self.worker_id is None


ANONYMOUS = Principal(worker_id=-1)
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
