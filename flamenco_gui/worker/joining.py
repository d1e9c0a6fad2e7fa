"""How a worker finds its manager and gets in, before the agent's loops start.

- `--manager URL` wins; without it the worker looks for the manager's mDNS
  advertisement (flamenco_gui/discovery.py), preferring the manager it used last, and
  falls back to that one when nothing answers (it may just be restarting).
- `--pair CODE` trades a pairing code for this worker's own secret; otherwise the farm
  token registers it as before. Finding a manager never replaces either.
"""

from __future__ import annotations

import logging
from typing import Any

from flamenco_gui.discovery import DiscoveryFailed, find_manager
from flamenco_gui.worker.client import (
    Credentials,
    ManagerClient,
    ManagerUnreachable,
    PairingRefused,
)

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"


async def resolve_manager(given: str | None, stored: Credentials | None, timeout: float) -> str:
    """The manager's URL; raises `DiscoveryFailed` (with what to do) when there is none."""
    if given:
        return given.rstrip("/")
    last = stored.manager if stored else None
    try:
        return await find_manager(timeout, prefer=last)
    except DiscoveryFailed as exc:
        if last is None:
            raise
        log.warning("%s; trying %s, the manager this worker used last", exc, last)
        return last


async def pair(client: ManagerClient, code: str, registration: dict[str, Any]) -> bool:
    """Redeem `code`; False (after saying why) if the manager refused or was away."""
    try:
        await client.pair(code, registration)
    except PairingRefused as exc:
        log.error("%s", exc)
        return False
    except ManagerUnreachable as exc:
        log.error("could not pair: the manager did not answer: %s", exc)
        return False
    return True
