"""Bytes from a socket to a file (and a hash) without holding the event loop, and
without stopping the socket while the disk works.

Chunks are gathered into batches of about `BATCH` bytes; each batch goes to every sink
(the file's write, then the hash's update) on one thread, while the loop goes on
reading the next batch, with one batch in flight at a time, so the memory held is bounded (two
batches) and the order kept. A thread hop per small chunk would cost more than the
write; one per batch is noise. Pure (asyncio only), shared by the manager's file store
and the worker's cache.

Why not a thread per sink: on a 2-core machine the write and the hash running at once
(both release the GIL) took the cores from the loop thread, and its lag p99 went from
~10 ms to 75-285 ms during a 500 MB upload (bench/transfer.py), for ~10 % more speed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

BATCH = 4 * 1024 * 1024


class PipedWriter:
    def __init__(self, *sinks: Callable[[bytes], Any], batch: int = BATCH) -> None:
        self._sinks = sinks
        self._batch = batch
        self._parts: list[bytes] = []
        self._held = 0
        self._flight: asyncio.Future[Any] | None = None

    def _feed(self, data: bytes) -> None:
        for sink in self._sinks:
            sink(data)

    async def add(self, chunk: bytes) -> None:
        self._parts.append(chunk)
        self._held += len(chunk)
        if self._held >= self._batch:
            await self._send()

    async def _send(self) -> None:
        await self._wait()
        if self._parts:
            data = b"".join(self._parts)
            self._parts, self._held = [], 0
            self._flight = asyncio.ensure_future(asyncio.to_thread(self._feed, data))

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
