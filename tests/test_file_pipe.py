"""file_pipe.py: batches reach every sink whole and in order, a failing sink is raised
only once the other has ended, and a real loopback transfer reads 1 MiB at a time."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import aiohttp
import pytest
from aiohttp import web

from flamenco_gui.file_pipe import READ_SIZE, PipedWriter, read_widely


async def test_every_sink_gets_every_byte_in_order_on_threads() -> None:
    chunks = [os.urandom(n) for n in (1, 70_000, 300_000, 5, 1 << 20, 123_457) * 4]
    written: list[bytes] = []
    digest = hashlib.sha256()
    threads: set[str] = set()

    def write(part: bytes) -> None:
        threads.add(threading.current_thread().name)
        written.append(part)

    writer = PipedWriter(write, digest.update, batch=512 * 1024)
    for chunk in chunks:
        await writer.add(chunk)
    await writer.flush()
    whole = b"".join(chunks)
    assert b"".join(written) == whole  # every chunk as it came, none joined or dropped
    assert len(written) == len(chunks)
    assert digest.hexdigest() == hashlib.sha256(whole).hexdigest()
    assert threading.current_thread().name not in threads  # off the loop thread


async def test_a_failing_sink_is_raised_after_the_other_sink_ended() -> None:
    ended = threading.Event()

    def slow_hash(_part: bytes) -> None:
        time.sleep(0.2)
        ended.set()

    def broken_write(_part: bytes) -> None:
        raise OSError("disk full")

    writer = PipedWriter(broken_write, slow_hash, batch=1)
    await writer.add(b"x")
    with pytest.raises(OSError, match="disk full"):
        await writer.flush()
    assert ended.is_set()  # the file may be closed now: no thread still feeds it


async def test_read_widely_makes_a_real_transfer_read_a_mib_at_a_time() -> None:
    body = os.urandom(8 * READ_SIZE)
    seen: list[int] = []

    async def put(request: web.Request) -> web.Response:
        read_widely(request.transport, request.content)
        assert request.transport is not None
        assert request.transport.max_size == READ_SIZE  # type: ignore[attr-defined]
        while True:
            chunk, end = await request.content.readchunk()
            if not chunk and not end:
                break
            seen.append(len(chunk))
        return web.Response(text="ok")

    app = web.Application(client_max_size=len(body) + 1)
    app.router.add_put("/", put)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.put(f"http://127.0.0.1:{port}/", data=body) as resp,
        ):
            assert resp.status == 200
    finally:
        await runner.cleanup()
    assert sum(seen) == len(body)
    assert max(seen) > 256 * 1024  # asyncio's own recv size is 256 KiB


async def test_a_sink_that_failed_takes_no_later_batch() -> None:
    """A failed write followed by the next batch's would leave a gap in the file."""
    calls: list[bytes] = []
    hashed: list[bytes] = []

    def write(part: bytes) -> None:
        calls.append(part)
        raise OSError("disk full")

    writer = PipedWriter(write, hashed.append, batch=1, depth=3)
    with pytest.raises(OSError, match="disk full"):
        for chunk in (b"a", b"b", b"c", b"d"):
            await writer.add(chunk)
        await writer.flush()
    assert calls == [b"a"]
