"""What the store raises: the farm handles these without knowing SQLite (this module
imports nothing of it, so the farm may import this one)."""

from __future__ import annotations

# SQLite's primary result codes that mean "the data dir cannot take this write":
# https://sqlite.org/rescode.html (an extended code's low byte is its primary code).
_DISK_CODES = {
    8: "read-only",  # SQLITE_READONLY
    10: "disk I/O error",  # SQLITE_IOERR
    13: "disk full",  # SQLITE_FULL
    14: "cannot open the file",  # SQLITE_CANTOPEN
}


class StorageUnavailable(Exception):
    """The farm's file cannot be written now (disk full, read-only, I/O error): the
    change was rolled back whole, and trying again later may work."""


class StoreClosed(StorageUnavailable):
    """The manager is stopping and its file is closed: a request that outlived the
    server's shutdown grace is refused, but nothing is wrong with the data dir."""


def storage_error(exc: Exception) -> StorageUnavailable | None:
    """`exc` as a StorageUnavailable when the disk is the cause, judged by its error
    code (never by its message text); None for anything else (a bug: let it raise)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    what = _DISK_CODES.get(code & 0xFF)
    if what is None:
        return None
    return StorageUnavailable(f"{what} ({exc})")
