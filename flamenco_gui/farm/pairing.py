"""Pairing codes: a short, typeable, short-lived stand-in for the farm token.

A wrangler asks the manager for a code (`POST /pairing-codes`, or `PairingCodes.issue`
from the window), reads it out or writes it on a sticky note, and a new render node
exchanges it once (`POST /pairing`) for its own worker secret. The code is worth one
registration and nothing else, so nobody types a 40-character secret on a render node.

Why it is safe to accept without a token:
- 8 characters from a 31-symbol alphabet without look-alikes (no 0/O, 1/I/L): about
  8.5e11 codes, valid 10 minutes, single use;
- failed attempts are rate-limited per client address and for the whole manager, so a
  guesser gets a few hundred tries per code lifetime at most;
- every refusal (wrong, expired, used, malformed) is the same answer, and codes are
  compared in constant time against every live code, so a refusal reveals nothing.

Pure logic with an injectable clock: no I/O, no HTTP, no Qt. Codes live in memory only
(a manager restart voids them, which is what a short-lived secret should do).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0 O 1 I L: nothing to misread
CODE_LENGTH = 8
DEFAULT_TTL = 600.0  # seconds: long enough to walk to the render node
MAX_TTL = 3600.0
MAX_LIVE = 50  # older codes are dropped beyond this: a human never needs so many
FAIL_WINDOW = 60.0  # seconds over which failed attempts are counted
FAILS_PER_CLIENT = 10  # per client address and window
FAILS_TOTAL = 60  # for the whole manager and window (many addresses, one guesser)

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class PairingCode:
    """An issued code as a person reads it (`ABCD-EFGH`) and when it stops working."""

    code: str
    expires_at: float  # on the registry's clock (wall clock by default)
    ttl: float


class RateLimited(Exception):
    """Too many failed attempts: nothing is checked until `retry_after` seconds pass."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many pairing attempts; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


def normalize(code: str) -> str:
    """What a person typed, as stored: case, dashes and spaces do not matter."""
    return "".join(c for c in code.upper() if c not in "- \t")


def format_code(raw: str) -> str:
    half = len(raw) // 2
    return f"{raw[:half]}-{raw[half:]}"


def _digest(raw: str) -> bytes:
    return hashlib.sha256(raw.encode("utf-8", "replace")).digest()


@dataclass(slots=True)
class _Live:
    digest: bytes
    expires_at: float


@dataclass(slots=True)
class PairingCodes:
    """The manager's live codes and its failed-attempt counters (one event loop, so no
    locks: a check and its consumption happen without an `await` in between)."""

    clock: Clock = time.time
    _live: list[_Live] = field(default_factory=list)
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _all_fails: deque[float] = field(default_factory=deque)

    def issue(self, ttl: float = DEFAULT_TTL) -> PairingCode:
        """A new single-use code valid for `ttl` seconds (capped at an hour)."""
        ttl = max(1.0, min(float(ttl), MAX_TTL))
        now = self.clock()
        self._purge(now)
        raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        self._live.append(_Live(_digest(raw), now + ttl))
        del self._live[:-MAX_LIVE]
        return PairingCode(format_code(raw), now + ttl, ttl)

    def redeem(self, code: str, client: str) -> bool:
        """True exactly once for a live code, which is then spent. False for anything
        else, without saying why. Raises `RateLimited` while `client` (or everyone)
        has failed too often, before looking at the code at all."""
        now = self.clock()
        self._check_rate(client, now)
        digest = _digest(normalize(code))
        hit: _Live | None = None
        # Compare against every entry, live or not, without stopping at a match, so
        # the time taken does not depend on which code (if any) matched.
        for entry in self._live:
            same = hmac.compare_digest(digest, entry.digest)
            if same and entry.expires_at > now:
                hit = entry
        self._purge(now)
        if hit is None:
            self._record_failure(client, now)
            return False
        self._live.remove(hit)
        return True

    @property
    def live(self) -> int:
        """How many codes could still be redeemed (the window may show it)."""
        now = self.clock()
        return sum(1 for e in self._live if e.expires_at > now)

    def _purge(self, now: float) -> None:
        self._live = [e for e in self._live if e.expires_at > now]

    def _window(self, times: deque[float], now: float) -> deque[float]:
        while times and times[0] <= now - FAIL_WINDOW:
            times.popleft()
        return times

    def _check_rate(self, client: str, now: float) -> None:
        mine = self._window(self._fails.get(client, deque()), now)
        everyone = self._window(self._all_fails, now)
        for times, limit in ((mine, FAILS_PER_CLIENT), (everyone, FAILS_TOTAL)):
            if len(times) >= limit:
                raise RateLimited(max(1.0, times[0] + FAIL_WINDOW - now))

    def _record_failure(self, client: str, now: float) -> None:
        self._fails.setdefault(client, deque()).append(now)
        self._all_fails.append(now)
        if len(self._fails) > 10_000:  # many addresses: forget the quiet ones
            self._fails = {k: v for k, v in self._fails.items() if self._window(v, now)}
