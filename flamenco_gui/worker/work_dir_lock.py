"""One agent per work dir: two agents sharing an outbox would report each other's tasks.

An OS lock on `<work-dir>/worker.lock` (flock on Linux and macOS, msvcrt's byte lock on
Windows): the OS drops it when the process dies, however it dies, so a crashed worker
never leaves a stale lock behind. `flamenco worker status` probes the same lock to tell
whether a worker is running on a work dir.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

LOCK_FILE = "worker.lock"


def _try_lock(handle: TextIO) -> bool:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def lock_work_dir(work_dir: Path) -> TextIO | None:
    """The open, locked lock file (keep it for the process's lifetime), or None when
    another process holds it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    handle = (work_dir / LOCK_FILE).open("a")
    if _try_lock(handle):
        return handle
    handle.close()
    return None


def in_use(work_dir: Path) -> bool:
    """Whether a worker holds this work dir now (probing takes and drops the lock)."""
    if not (work_dir / LOCK_FILE).exists():
        return False
    handle = lock_work_dir(work_dir)
    if handle is None:
        return True
    handle.close()
    return False
