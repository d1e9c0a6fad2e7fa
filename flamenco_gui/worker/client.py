"""The worker's HTTP side: one keep-alive session, its credentials, re-registration.

Every worker call goes through `ManagerClient.call`, which turns every way of not
reaching the manager into `ManagerUnreachable` (the caller backs off and retries) and
a 401 into a fresh registration, so the loops above never handle either themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from flamenco_gui.file_pipe import PipedWriter, read_widely

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


class ManagerUnreachable(Exception):
    """No answer: connection refused or reset, timeout, or an answer that is not HTTP."""


class TokenRefused(Exception):
    """The manager refused the farm token: retrying cannot help, the wrangler must act."""


class NotOurManager(Exception):
    """A discovered manager is not the one this worker registered with."""


def _hash_into(digest: Any, path: Path) -> None:
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)


class FetchRefused(Exception):
    """The manager answered a file fetch with an error (not a broken connection)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PairingRefused(Exception):
    """The manager refused a pairing code (wrong, expired, used) or is rate-limiting."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    data: Any  # the decoded JSON body, or None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        """The manager's `{"error": ...}` text, for logs."""
        if isinstance(self.data, dict) and "error" in self.data:
            return str(self.data["error"])
        return f"HTTP {self.status}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What registration hands out, kept in `<work-dir>/credentials.json`, with the
    farm id of the manager that handed it out (pinned: api/routes_identity.py)."""

    id: int
    secret: str
    manager: str
    farm: str = ""

    @classmethod
    def load(cls, path: Path) -> Credentials | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                id=int(data["id"]),
                secret=str(data["secret"]),
                manager=str(data["manager"]),
                farm=str(data.get("farm") or ""),
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable %s: registering again", path)
            return None

    def save(self, path: Path) -> None:
        """Atomically, readable by this user only (the secret is a password)."""
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(
                {"id": self.id, "secret": self.secret, "manager": self.manager, "farm": self.farm},
                out,
            )
        os.replace(tmp, path)


class Backoff:
    """Exponential backoff with jitter, capped low: a restarted manager is usually back
    within seconds and its workers should notice it quickly, without all knocking at
    the same instant."""

    def __init__(self, first: float = 0.25, cap: float = 3.0) -> None:
        self._first = first
        self._cap = cap
        self._delay = first

    def reset(self) -> None:
        self._delay = self._first

    async def sleep(self) -> None:
        await asyncio.sleep(self._delay * random.uniform(0.8, 1.2))
        self._delay = min(self._cap, self._delay * 2)


Registration = Callable[[], Awaitable[dict[str, Any]]]


def credentials_from(reply: Reply, hostname: str, base: str, farm: str = "") -> Credentials:
    """The id and secret in a registration answer (`POST /workers` or `/pairing`)."""
    if reply.status != 200 or not isinstance(reply.data, dict):
        raise ManagerUnreachable(f"registration failed: {reply.error}")
    # Any JSON value: a wrong shape (None, a list, ...) is the TypeError below.
    worker: Any = reply.data.get(hostname) or next(iter(reply.data.values()), None)
    try:
        return Credentials(int(worker["id"]), str(worker["secret"]), base, farm)
    except (TypeError, KeyError, ValueError) as exc:
        raise ManagerUnreachable(f"registration answer lacks id/secret: {exc}") from None


class ManagerClient:
    """Calls the manager as this worker. `{worker_id}` in a path is filled in at send
    time, because re-registration may hand out a new id."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        manager: str,
        farm_token: str,
        credentials_path: Path,
        registration_body: Registration,
    ) -> None:
        self._session = session
        self._base = manager.rstrip("/")
        self._farm_token = farm_token
        self._credentials_path = credentials_path
        self._registration_body = registration_body
        self._register_lock = asyncio.Lock()
        creds = Credentials.load(credentials_path)
        if creds is not None:
            # Registered: from now on only its own secret. The farm token is for a first
            # registration; holding it would put the farm's key on every render node.
            if farm_token:
                log.info("registered already: ignoring the farm token, using this worker's secret")
            self._farm_token = ""
            if creds.manager != self._base:  # the manager moved (discovery found it)
                creds = Credentials(creds.id, creds.secret, self._base, creds.farm)
        self._creds = creds

    @property
    def worker_id(self) -> int | None:
        return self._creds.id if self._creds else None

    async def call(
        self, method: str, path: str, body: Any = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> Reply:
        """A call with the worker secret; registers first if needed, again after a 401."""
        creds = self._creds or await self._register(None)
        reply = await self._send_as(creds, method, path, body, timeout)
        if reply.status != 401:
            return reply
        log.warning("manager no longer accepts this worker's secret: registering again")
        creds = await self._register(creds)
        return await self._send_as(creds, method, path, body, timeout)

    async def _send_as(
        self, creds: Credentials, method: str, path: str, body: Any, timeout: float
    ) -> Reply:
        return await self._send(
            method, path.format(worker_id=creds.id), body, creds.secret, timeout
        )

    async def _register(self, stale: Credentials | None) -> Credentials:
        async with self._register_lock:
            # Another call may have registered while this one waited for the lock.
            if self._creds is not None and self._creds is not stale:
                return self._creds
            if not self._farm_token:
                raise TokenRefused(
                    f"manager {self._base} does not accept this worker's credentials "
                    f"({self._credentials_path}) (was it forgotten in the window?): pair it "
                    "again with --pair CODE, or start it once with --reset-identity and "
                    "the farm token (--token-file or $FLAMENCO_TOKEN)"
                )
            body = await self._registration_body()
            farm = await self.farm_id()
            reply = await self._send("POST", "/workers", body, self._farm_token, DEFAULT_TIMEOUT)
            if reply.status in (401, 403):
                raise TokenRefused(
                    f"manager {self._base} refused the farm token ({reply.error}): "
                    "check --token or FLAMENCO_TOKEN"
                )
            if reply.status in (403, 409):  # its id is someone else's: not retryable
                raise TokenRefused(f"manager {self._base} refused this worker: {reply.error}")
            creds = credentials_from(reply, body["hostname"], self._base, farm)
            creds.save(self._credentials_path)
            self._creds = creds
            self._farm_token = ""  # done with it: from now on only this worker's secret
            log.info("registered with %s as worker %d (%s)", self._base, creds.id, body["hostname"])
            return creds

    async def pair(self, code: str, registration: dict[str, Any]) -> Credentials:
        """Trade a pairing code for this worker's own secret (`POST /pairing`, no token)
        and keep it in the work dir, as registration would."""
        hostname = str(registration["hostname"])
        keys = ("hostname", "system", "uuid", "accepts", "node")
        body = {"code": code, **{k: registration[k] for k in keys if k in registration}}
        farm = await self.farm_id()
        reply = await self._send("POST", "/pairing", body, None, DEFAULT_TIMEOUT)
        if reply.status in (403, 429):
            raise PairingRefused(f"manager {self._base} refused the pairing: {reply.error}")
        creds = credentials_from(reply, hostname, self._base, farm)
        creds.save(self._credentials_path)
        self._creds = creds
        log.info("paired with %s as worker %d (%s)", self._base, creds.id, hostname)
        return creds

    async def farm_id(self) -> str:
        """The farm id this manager claims (pinned at registration)."""
        reply = await self._send(
            "GET", f"/identity?nonce={secrets.token_hex(16)}", None, None, DEFAULT_TIMEOUT
        )
        return str(reply.data.get("farm") or "") if isinstance(reply.data, dict) else ""

    async def verify_manager(self) -> None:
        """Before any credential goes to a manager found by discovery: it must be the
        farm this worker registered with, and prove it knows this worker (an HMAC keyed
        by the hash of the secret, api/routes_identity.py). Raises `NotOurManager`."""
        creds = self._creds
        if creds is None:
            return  # a first registration or pairing: nothing pinned yet
        nonce = secrets.token_hex(16)
        reply = await self._send(
            "GET", f"/identity?worker_id={creds.id}&nonce={nonce}", None, None, DEFAULT_TIMEOUT
        )
        data = reply.data if reply.ok and isinstance(reply.data, dict) else {}
        farm = str(data.get("farm") or "")
        if creds.farm and farm != creds.farm:
            raise NotOurManager(
                f"the manager found at {self._base} is farm {farm or '(none)'}, not farm "
                f"{creds.farm} that this worker registered with: refusing to send it any "
                "credential. Give --manager URL for the right one; if the farm really "
                "changed, start this worker with --reset-identity"
            )
        secret_hash = hashlib.sha256(creds.secret.encode()).hexdigest()
        dialled = urlsplit(self._base).netloc.lower()  # what aiohttp sends as `Host`
        expected = hmac.new(
            secret_hash.encode(), f"{nonce}:{farm}:{dialled}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(str(data.get("proof") or ""), expected):
            raise NotOurManager(
                f"the manager found at {self._base} claims farm {farm} but cannot prove it "
                "knows this worker: refusing to send it any credential (give --manager URL)"
            )

    async def _send(
        self, method: str, path: str, body: Any, token: str | None, timeout: float
    ) -> Reply:
        try:
            raw = isinstance(body, bytes)  # a preview image; everything else is JSON
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if raw:
                headers["Content-Type"] = "image/jpeg"
            async with self._session.request(
                method,
                self._base + path,
                json=None if raw else body,
                data=body if raw else None,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ManagerUnreachable(f"{method} {path}: {exc or type(exc).__name__}") from None
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        return Reply(response.status, data)

    async def download(self, path: str, dest: Path, timeout: float = 600) -> str:
        """Stream `path` into `dest` with this worker's secret (a build is 100+ MB, so it
        never sits in memory); returns the SHA-256 of what arrived. Raises
        `ManagerUnreachable` for a broken transfer or any answer but 200."""
        creds = self._creds or await self._register(None)
        digest = hashlib.sha256()
        try:
            async with self._session.get(
                self._base + path,
                headers={"Authorization": f"Bearer {creds.secret}"},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                if response.status != 200:
                    raise ManagerUnreachable(f"GET {path}: HTTP {response.status}")
                with dest.open("wb") as out:
                    async for chunk in response.content.iter_chunked(1024 * 1024):
                        digest.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ManagerUnreachable(f"GET {path}: {exc or type(exc).__name__}") from None
        return digest.hexdigest()

    async def fetch_to(self, path: str, dest: Path, timeout: float = 3600) -> str:
        """Stream `path` onto the end of `dest`, asking only for the bytes after those
        it holds (`Range`), so a fetch cut short resumes; returns the SHA-256 of the
        whole file. Writing and hashing run on a thread, batched (file_pipe.py).
        Raises `ManagerUnreachable` for a broken transfer, `FetchRefused` for a 4xx."""
        creds = self._creds or await self._register(None)
        digest = hashlib.sha256()
        offset = dest.stat().st_size if dest.exists() else 0
        if offset:
            await asyncio.to_thread(_hash_into, digest, dest)
        headers = {"Authorization": f"Bearer {creds.secret}"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            async with self._session.get(
                self._base + path, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                if response.status == 416:  # it holds every byte already
                    return digest.hexdigest()
                if response.status not in (200, 206):
                    text = await response.text()
                    raise FetchRefused(response.status, f"GET {path}: {text[:300]}")
                if response.status == 200:  # the whole file after all: start over
                    digest = hashlib.sha256()
                with dest.open("ab" if response.status == 206 else "wb") as out:
                    writer = PipedWriter(out.write, digest.update)
                    content = response.content
                    conn = response.connection
                    read_widely(conn.transport if conn is not None else None, content)
                    try:
                        while True:  # chunks as received, never joined (file_pipe.py)
                            chunk, end_of_http_chunk = await content.readchunk()
                            if chunk:
                                await writer.add(chunk)
                            elif not end_of_http_chunk:
                                break
                        await writer.flush()
                    except BaseException:
                        await writer.settle()
                        raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ManagerUnreachable(f"GET {path}: {exc or type(exc).__name__}") from None
        return digest.hexdigest()

    async def put_from(
        self,
        path: str,
        source: Path,
        offset: int,
        timeout: float = 3600,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Reply:
        """`PUT` the bytes of `source` from `offset` on, streamed (read on a thread);
        `on_bytes` is told of each block as it goes."""
        creds = self._creds or await self._register(None)

        async def body() -> Any:
            with source.open("rb") as f:
                f.seek(offset)
                while chunk := await asyncio.to_thread(f.read, 1024 * 1024):
                    yield chunk
                    if on_bytes is not None:
                        on_bytes(len(chunk))

        headers = {
            "Authorization": f"Bearer {creds.secret}",
            "Content-Type": "application/octet-stream",
        }
        try:
            async with self._session.put(
                self._base + path,
                data=body(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ManagerUnreachable(f"PUT {path}: {exc or type(exc).__name__}") from None
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        return Reply(response.status, data)
