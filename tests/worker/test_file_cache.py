"""The worker's job-file cache: verified on every use, refetched when corrupt, bounded
with the least recently used evicted (never a file the job in hand needs)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from flamenco_gui.worker.file_cache import CorruptFetch, FileCache


class Source:
    """Serves bytes by hash, as the manager's GET /files/{sha256} does, and counts."""

    def __init__(self, *blobs: bytes) -> None:
        self.blobs = {hashlib.sha256(b).hexdigest(): b for b in blobs}
        self.fetches: list[str] = []
        self.wrong = False

    async def fetch(self, sha256: str, partial: Path) -> str:
        self.fetches.append(sha256)
        data = b"not it" if self.wrong else self.blobs[sha256]
        with partial.open("ab") as f:
            f.write(data[partial.stat().st_size if partial.exists() else 0 :])
        return hashlib.sha256(partial.read_bytes()).hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_hits_are_verified_and_a_corrupt_copy_is_fetched_again(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    source = Source(data)
    cache = FileCache(tmp_path)
    path = await cache.ensure(sha(data), source.fetch)
    assert path.read_bytes() == data and source.fetches == [sha(data)]
    assert await cache.ensure(sha(data), source.fetch) == path
    assert cache.stats.hits == 1 and cache.stats.fetched == 1
    rotten = bytearray(data)
    rotten[5000] ^= 1
    path.write_bytes(bytes(rotten))
    assert (await cache.ensure(sha(data), source.fetch)).read_bytes() == data
    assert cache.stats.corrupt == 1 and len(source.fetches) == 2


async def test_a_fetch_of_wrong_bytes_is_dropped(tmp_path: Path) -> None:
    data = os.urandom(100)
    source = Source(data)
    source.wrong = True
    cache = FileCache(tmp_path)
    with pytest.raises(CorruptFetch):
        await cache.ensure(sha(data), source.fetch)
    assert not list(tmp_path.rglob(sha(data)))


async def test_the_least_recently_used_go_first_and_the_job_keeps_its_own(
    tmp_path: Path,
) -> None:
    blobs = [os.urandom(1000) for _ in range(4)]
    source = Source(*blobs)
    cache = FileCache(tmp_path, max_bytes=2500)
    for i, data in enumerate(blobs):
        path = await cache.ensure(sha(data), source.fetch)
        os.utime(path, (time.time() - 100 + i, time.time() - 100 + i))  # 0 oldest
    await cache.ensure(sha(blobs[0]), source.fetch)  # used again: now the newest
    freed = await cache.evict(keep={sha(blobs[1])})
    left = {p.name for p in cache.objects.iterdir()}
    assert freed == 2000 and left == {sha(blobs[0]), sha(blobs[1])}
