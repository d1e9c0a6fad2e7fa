"""Bytes from a socket to a file (and a hash) without holding the event loop, and
without stopping the socket while the disk works.

Chunks are gathered into batches of about `BATCH` bytes; each batch goes to every sink
(the file's write, the hash's update), each sink on a thread of its own that takes the
batches in order, while the loop goes on reading. Up to `DEPTH` batches are in flight,
so the hash need not wait for the write of the same batch (nor the other way round),
and the memory held stays bounded (DEPTH + 1 batches). A thread hop per small chunk
would cost more than the write; one per batch is noise. A batch is handed over as the
list of its chunks, each fed in turn, never joined: a join copied every byte once more
on the loop thread (and in fresh memory, which on a VM that hands free pages back to
its host costs a fault per page). Standard library only, shared by the manager's file
store and the worker's cache.

The reading side matters as much on two cores: the loop thread is the one that
parses the HTTP body and copies every byte (the socket's recv, the parser's copy), and
it was the bottleneck once the join was gone. `read_widely` makes each recv 1 MiB
instead of asyncio's 256 KiB (fewer loop turns and parser calls per byte) and lets the
reader buffer a batch before it pauses the socket; chunks are then taken one by one
as they arrived (aiohttp's `readchunk`, which never joins them).

A thread per sink: the write and the hash run at once (both release the GIL). With
one batch in flight each batch waited for the slower sink while the other idled; two
in flight took the fetch from ~300 to ~470 MB/s (bench/transfer.py, same machine
state). Tried before the join and the small reads were gone, threads per sink took
the cores from the loop thread (lag p99 75-285 ms on 2 cores); with the loop doing a
third of the work it had, the lag p99 stays under 20 ms (docs/performance.md).

`keep_freed_buffers` (called once at start by the manager and the worker): glibc gives
freed heap memory back to the kernel as soon as 128 KiB of it sits free at the top, so
every received chunk landed in fresh pages (a fault per 4 KiB page, and on a VM that
reports free pages to its host, a fault on the host too): a third of the manager's
system time during an upload. Keeping up to 128 MiB of freed heap takes that away.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

BATCH = 8 * 1024 * 1024
DEPTH = 2  # batches handed over and not yet ended by every sink (memory: DEPTH + 1)
READ_SIZE = 1024 * 1024  # bytes per recv of a transfer's socket
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def keep_freed_buffers() -> None:
    """glibc only: keep freed memory for the next chunks (module docstring). Elsewhere
    (macOS, Windows, musl) nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # fixed: buffers below come from the heap
    mallopt(_M_TRIM_THRESHOLD, 128 * 1024 * 1024)


def read_widely(transport: object | None, reader: Any) -> None:
    """Bigger reads for one transfer: `reader` (an aiohttp StreamReader) buffers up to
    a batch before it pauses the socket, and `transport`, when it is asyncio's selector
    transport (whose `max_size` sets each recv's size), reads READ_SIZE at a time.
    Another transport (Windows' proactor) has no `max_size` and is left as it is."""
    reader.set_read_chunk_size(BATCH // 2)  # pauses above twice this
    if transport is not None and isinstance(getattr(type(transport), "max_size", None), int):
        transport.max_size = READ_SIZE  # type: ignore[attr-defined]


class _Sink:
    """One sink on a thread of its own (one worker: batches keep their order). After a
    failure it takes nothing more: a write that failed must not be followed by the
    next batch's (the file would hold a gap)."""

    def __init__(self, sink: Callable[[bytes], Any]) -> None:
        self._sink = sink
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="file-pipe")
        self._failed = False

    def _feed(self, parts: list[bytes]) -> None:
        if self._failed:
            return
        try:
            for part in parts:
                self._sink(part)
        except BaseException:
            self._failed = True
            raise

    def feed(self, parts: list[bytes]) -> asyncio.Future[None]:
        return asyncio.wrap_future(self._pool.submit(self._feed, parts))

    def close(self) -> None:
        self._pool.shutdown(wait=False)


class PipedWriter:
    def __init__(
        self, *sinks: Callable[[bytes], Any], batch: int = BATCH, depth: int = DEPTH
    ) -> None:
        self._sinks = [_Sink(sink) for sink in sinks]
        self._batch = batch
        self._depth = depth
        self._parts: list[bytes] = []
        self._held = 0
        self._flights: collections.deque[asyncio.Future[list[Any]]] = collections.deque()

    async def add(self, chunk: bytes) -> None:
        self._parts.append(chunk)
        self._held += len(chunk)
        if self._held >= self._batch:
            await self._send()

    async def _send(self) -> None:
        if self._parts:
            parts, self._parts, self._held = self._parts, [], 0
            feeds = [sink.feed(parts) for sink in self._sinks]
            self._flights.append(asyncio.gather(*feeds, return_exceptions=True))
        while len(self._flights) >= self._depth:
            await self._land()

    async def _land(self) -> None:
        """The oldest batch: every sink has ended it; the first failure is raised."""
        for result in await self._flights.popleft():
            if isinstance(result, BaseException):
                raise result

    async def flush(self) -> None:
        """Everything added is written (raises what the write raised)."""
        try:
            await self._send()
            while self._flights:
                await self._land()
        finally:
            self._close()

    async def settle(self) -> None:
        """After a failure: let the writes in flight end before the file is closed; what
        was not yet handed over is dropped."""
        self._parts, self._held = [], 0
        while self._flights:
            with contextlib.suppress(Exception):  # the failure that brought us here counts
                await self._land()
        self._close()

    def _close(self) -> None:
        for sink in self._sinks:
            sink.close()
