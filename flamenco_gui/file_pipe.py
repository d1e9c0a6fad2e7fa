"""Bytes from a socket to a file (and a hash) without holding the event loop, and
without stopping the socket while the disk works.

Chunks are gathered into batches of about `BATCH` bytes; each batch goes to every sink
(the file's write, the hash's update), each sink on a thread, while the loop goes on
reading the next batch, with one batch in flight at a time, so the memory held is bounded (two
batches) and the order kept. A thread hop per small chunk would cost more than the
write; one per batch is noise. The batch is handed over as the list of its chunks, each
fed in turn, never joined: a join copied every byte once more on the loop thread (and
in fresh memory, which on a VM that hands free pages back to its host costs a fault per
page). Standard library only, shared by the manager's file store and the worker's cache.

The reading side matters as much on two cores: the loop thread is the one that
parses the HTTP body and copies every byte (the socket's recv, the parser's copy), and
it was the bottleneck once the join was gone. `read_widely` makes each recv 1 MiB
instead of asyncio's 256 KiB (fewer loop turns and parser calls per byte) and lets the
reader buffer a batch before it pauses the socket; chunks are then taken one by one
as they arrived (aiohttp's `readchunk`, which never joins them).

A thread per sink: the write and the hash of a batch run at once (both release the
GIL), and the next batch waits for both. Tried before the join and the small reads
were gone, this took the cores from the loop thread (lag p99 75-285 ms on 2 cores);
with the loop doing a third of the work it had, the lag p99 stays under 5 ms
(bench/transfer.py, docs/performance.md).

`keep_freed_buffers` (called once at start by the manager and the worker): glibc gives
freed heap memory back to the kernel as soon as 128 KiB of it sits free at the top, so
every received chunk landed in fresh pages (a fault per 4 KiB page, and on a VM that
reports free pages to its host, a fault on the host too): a third of the manager's
system time during an upload. Keeping up to 128 MiB of freed heap takes that away.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import sys
from collections.abc import Callable
from typing import Any

BATCH = 8 * 1024 * 1024
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


def _feed(sink: Callable[[bytes], Any], parts: list[bytes]) -> None:
    for part in parts:
        sink(part)


class PipedWriter:
    def __init__(self, *sinks: Callable[[bytes], Any], batch: int = BATCH) -> None:
        self._sinks = sinks
        self._batch = batch
        self._parts: list[bytes] = []
        self._held = 0
        self._flight: asyncio.Future[Any] | None = None

    async def add(self, chunk: bytes) -> None:
        self._parts.append(chunk)
        self._held += len(chunk)
        if self._held >= self._batch:
            await self._send()

    async def _send(self) -> None:
        await self._wait()
        if self._parts:
            parts, self._parts, self._held = self._parts, [], 0
            self._flight = asyncio.ensure_future(self._feed_all(parts))

    async def _feed_all(self, parts: list[bytes]) -> None:
        """Every sink on its thread; both end before this does (a failed write must not
        leave the hash's thread running past the file's close), then the first failure
        is raised."""
        feeds = (asyncio.to_thread(_feed, sink, parts) for sink in self._sinks)
        for result in await asyncio.gather(*feeds, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    async def _wait(self) -> None:
        if self._flight is not None:
            flight, self._flight = self._flight, None
            await flight

    async def flush(self) -> None:
        """Everything added is written (raises what the write raised)."""
        await self._send()
        await self._wait()

    async def settle(self) -> None:
        """After a failure: let a write in flight end before the file is closed; what
        was not yet handed over is dropped."""
        self._parts, self._held = [], 0
        if self._flight is not None:
            flight, self._flight = self._flight, None
            with contextlib.suppress(Exception):  # the failure that brought us here counts
                await flight
