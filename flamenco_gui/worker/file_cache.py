"""The worker's cache of job files, keyed by SHA-256 (`manager` storage, docs/storage.md).

    <work dir>/cache/objects/<sha256>   a verified file
    <work dir>/cache/partial/<sha256>   a fetch under way (resumed from its size)

A file is checked against its hash every time a task uses it, not only when it
arrives: a disk that flipped a bit, or a render that wrote into a hard-linked copy,
is caught, and the file fetched again. The cache is bounded: after a job's files are
in place, the least recently used others are evicted until it fits `max_bytes`.
Hashing and file I/O run on a thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from flamenco_gui.file_hash import file_sha256

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024**3

# Fetches `sha256` onto the end of the partial file (resuming from its size) and
# returns the SHA-256 of what the partial file then holds.
Fetch = Callable[[str, Path], Awaitable[str]]


class CorruptFetch(Exception):
    """What arrived does not hash to its name (it was dropped)."""


@dataclass(slots=True)
class CacheStats:
    """Since the worker started: what came from the cache and what over the network."""

    hits: int = 0
    fetched: int = 0
    fetched_bytes: int = 0
    corrupt: int = 0


class FileCache:
    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.objects = root / "objects"
        self.partial = root / "partial"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.partial.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.stats = CacheStats()

    def path(self, sha256: str) -> Path:
        return self.objects / sha256

    async def ensure(self, sha256: str, fetch: Fetch) -> Path:
        """The verified cached file, fetched (again) if it is missing or corrupt."""
        path = self.path(sha256)
        if await asyncio.to_thread(self._verified, path, sha256):
            self.stats.hits += 1
            return path
        partial = self.partial / sha256
        if await fetch(sha256, partial) != sha256:
            partial.unlink(missing_ok=True)
            raise CorruptFetch(f"{sha256}: the fetched bytes do not match their hash")
        size = partial.stat().st_size
        os.replace(partial, path)
        self.stats.fetched += 1
        self.stats.fetched_bytes += size
        return path

    def _verified(self, path: Path, sha256: str) -> bool:
        if not path.exists():
            return False
        if file_sha256(path) == sha256:
            os.utime(path)  # most recently used
            return True
        log.warning("cached file %s is corrupt: fetching it again", sha256)
        self.stats.corrupt += 1
        path.unlink(missing_ok=True)
        return False

    async def evict(self, keep: Collection[str]) -> int:
        """Remove the least recently used files (never those in `keep`) until the cache
        fits `max_bytes`; returns the bytes freed."""
        return await asyncio.to_thread(self._evict, set(keep))

    def _evict(self, keep: set[str]) -> int:
        entries = []
        for path in self.objects.iterdir():
            st = path.stat()
            entries.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _mtime, size, path in sorted(entries):
            if total - freed <= self.max_bytes:
                break
            if path.name in keep:
                continue
            path.unlink(missing_ok=True)
            freed += size
        if freed:
            log.info("cache: evicted %d bytes (bounded to %d)", freed, self.max_bytes)
        return freed
