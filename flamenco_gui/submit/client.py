"""The submitter's side of the manager's API: check, upload (resumed after a break),
submit. Standard library only (http.client), so the Blender add-on can bundle it.

A file's bytes go with `socket.sendfile` (the kernel copies them from the page cache to
the socket, as a plain copy would; over HTTPS it falls back to reads and sends), a
`SLICE` at a time so progress can be reported.

An upload that breaks (the manager restarted, the network dropped) is resumed: the
client asks the manager how much of the file it holds (`POST /files/check` answers an
`offset`) and sends the rest, retrying for `give_up` seconds before failing.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from flamenco_gui.submit.packing import Pack, PackedFile

BLOCK = 1024 * 1024  # bytes per socket write of a request's body
SLICE = 8 * 1024 * 1024  # bytes per sendfile call of an upload (a progress report each)
CHECK_BATCH = 1000  # hashes per POST /files/check (the manager's limit is higher)

OnBytes = Callable[[PackedFile, int], None]  # a file, bytes just sent
OnResume = Callable[[PackedFile, int], None]  # a file, the offset its upload resumes at


class ManagerError(Exception):
    """The manager refused a request (its JSON `error` says why)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class ManagerAPI:
    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._token = token
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = kind(self._host, self._port, timeout=self._timeout, blocksize=BLOCK)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One call; JSON in and out. A broken connection is closed (the next call
        opens a new one) and raised as OSError."""
        hdrs = {"Authorization": f"Bearer {self._token}", **(headers or {})}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"

        def send(conn: http.client.HTTPConnection) -> None:
            conn.request(method, path, body=data, headers=hdrs)

        return self._exchange(method, path, send)

    def _exchange(
        self, method: str, path: str, send: Callable[[http.client.HTTPConnection], None]
    ) -> Any:
        conn = self._connection()
        try:
            send(conn)
            resp = conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise OSError(f"{method} {path}: {exc}") from exc
        answer = json.loads(payload) if payload else None
        if resp.status >= 400:
            message = answer.get("error") if isinstance(answer, dict) else payload[:200]
            raise ManagerError(resp.status, str(message))
        return answer

    # -- the steps of a submission -----------------------------------------------------

    def missing(self, files: Sequence[PackedFile]) -> dict[str, int]:
        """The files the manager lacks: hash → bytes of it already held."""
        out: dict[str, int] = {}
        for start in range(0, len(files), CHECK_BATCH):
            part = files[start : start + CHECK_BATCH]
            refs = [{"sha256": f.sha256, "size": f.size} for f in part]
            answer = self.request("POST", "/files/check", {"files": refs})
            out.update({m["sha256"]: int(m["offset"]) for m in answer["missing"]})
        return out

    def put(self, file: PackedFile, offset: int, on_bytes: OnBytes) -> dict[str, Any]:
        """Send `file` from `offset`, streamed from disk by the kernel (`sendfile`)."""
        query = urllib.parse.urlencode({"size": file.size, "offset": offset})
        path = f"/files/{file.sha256}?{query}"

        def send(conn: http.client.HTTPConnection) -> None:
            conn.putrequest("PUT", path, skip_accept_encoding=True)
            conn.putheader("Authorization", f"Bearer {self._token}")
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(file.size - offset))
            conn.endheaders()
            assert conn.sock is not None  # endheaders connected it
            with file.source.open("rb") as f:
                at = offset
                while at < file.size:
                    n = conn.sock.sendfile(f, at, min(SLICE, file.size - at))
                    if not n:
                        raise OSError(f"{file.source}: shorter than its {file.size} bytes")
                    at += n
                    on_bytes(file, n)

        answer: dict[str, Any] = self._exchange("PUT", path, send)
        return answer

    def upload(
        self,
        files: Sequence[PackedFile],
        on_bytes: OnBytes,
        on_resume: OnResume | None = None,
        give_up: float = 300.0,
    ) -> int:
        """Upload the files the manager lacks, one by one; returns the bytes sent.
        A break is retried (resuming where the manager's copy ends) for `give_up`
        seconds of failures in a row."""
        missing = self._retrying(lambda: self.missing(files), give_up)
        sent = 0
        for file in files:
            if file.sha256 in missing:
                offset = missing[file.sha256]
                if offset and on_resume is not None:
                    on_resume(file, offset)
                sent += self._upload_one(file, offset, on_bytes, on_resume, give_up)
        return sent

    def _upload_one(
        self,
        file: PackedFile,
        offset: int,
        on_bytes: OnBytes,
        on_resume: OnResume | None,
        give_up: float,
    ) -> int:
        """One file, resumed after each break until the manager has it all."""
        sent = 0

        def count(f: PackedFile, n: int) -> None:
            nonlocal sent
            sent += n
            on_bytes(f, n)

        while True:
            try:
                answer = self.put(file, offset, count)
            except OSError:
                pass  # broken off: ask below how much arrived
            except ManagerError as exc:
                if exc.status != 409:  # 409: a stale offset, or an upload under way
                    raise
                time.sleep(1.0)
            else:
                if answer["stored"]:
                    return sent
                offset = int(answer["offset"])
                continue
            held: dict[str, int] = self._retrying(lambda: self.missing([file]), give_up)
            if file.sha256 not in held:
                return sent
            offset = held[file.sha256]
            if on_resume is not None:
                on_resume(file, offset)

    def _retrying(self, call: Callable[[], Any], give_up: float) -> Any:
        """`call()` until it reaches the manager (it may be restarting)."""
        deadline = time.monotonic() + give_up
        delay = 0.25
        while True:
            try:
                return call()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def submit(self, job: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("POST", "/jobs", job)
        return answer

    def path_variables(self) -> dict[str, dict[str, str]]:
        answer: dict[str, dict[str, str]] = self.request("GET", "/path-variables")
        return answer


def manifest(pack: Pack) -> list[dict[str, object]]:
    return [f.manifest_entry() for f in pack.files]
