"""The farm's one SQLite connection and its transactions: the unit of work.

Writes run on the event-loop thread in short transactions (tens of microseconds each
in WAL mode with synchronous=NORMAL): a thread hop per tiny write costs more than the
write. What can stall — WAL checkpoints — runs on a thread of its own with its own
connection, so a commit on the loop never pays for one. See docs/decisions.md.

Two kinds of transaction. A plain `change()` begins, runs the block and commits. A
grouped one (an API request's) joins the open group transaction as a savepoint, and
`commit_group()` commits the whole group a loop turn later: many small changes then
share one commit, the costliest step of a small write. Either way a failure caused by
the disk is raised as `StorageUnavailable` with nothing of the failed work kept.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flamenco_gui.store.errors import StorageUnavailable, StoreClosed, storage_error


def connect(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    # Checkpoints are the checkpointer thread's job, never a commit's on the loop.
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


@contextmanager
def _disk_errors() -> Iterator[None]:
    """sqlite3's disk errors as StorageUnavailable; everything else as it is."""
    try:
        yield
    except sqlite3.Error as exc:
        unavailable = storage_error(exc)
        if unavailable is None:
            raise
        raise unavailable from exc


class UnitOfWork:
    """Begin, group, commit and roll back on one connection."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self._path = path
        self._depth = 0
        self._group_open = False
        self._closed = False
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None

    @property
    def in_transaction(self) -> bool:
        """Inside a `change()` block (an open group between blocks does not count)."""
        return self._depth > 0

    @property
    def group_open(self) -> bool:
        """A group transaction holds changes that `commit_group()` has yet to commit."""
        return self._group_open

    @contextmanager
    def change(self, *, group: bool = False) -> Iterator[None]:
        """One transaction; nested uses join the outer one. Committed on exit, unless
        `group`: then a savepoint of the group transaction (an error undoes this block
        alone). A plain change needs the group committed first: the caller's job, as it
        knows who waits for that commit."""
        if self._closed:
            # A request still running as the manager stops (a held poll that outlived
            # the server's shutdown grace): refused like any write that cannot be made.
            raise StoreClosed("the manager is shutting down")
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with _disk_errors():
            if group:
                yield from self._grouped()
                return
            if self._group_open:
                raise RuntimeError("a group transaction is open: commit_group() first")
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise

    def _grouped(self) -> Iterator[None]:
        if not self._group_open:
            self.conn.execute("BEGIN IMMEDIATE")
            self._group_open = True
        try:
            self.conn.execute("SAVEPOINT change")
        except sqlite3.Error:
            self._rollback_group()
            raise
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            try:
                self.conn.execute("ROLLBACK TO change")
                self.conn.execute("RELEASE change")
            except sqlite3.Error:
                self._rollback_group()
            raise
        self._depth = 0
        try:
            self.conn.execute("RELEASE change")
        except sqlite3.Error:
            self._rollback_group()
            raise

    def commit_group(self) -> None:
        """Commit the group transaction; on failure nothing of it stays, and it raises
        (StorageUnavailable when the disk is why)."""
        if not self._group_open:
            return
        with _disk_errors():
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                self._rollback_group()
                raise
        self._group_open = False

    def _rollback_group(self) -> None:
        self._group_open = False
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    # -- lifecycle -------------------------------------------------------------------

    def start_checkpointer(self, interval: float = 2.0) -> None:
        def run() -> None:
            conn = sqlite3.connect(self._path, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=5000")
            try:
                while not self._stop.wait(interval):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()

        self._checkpointer = threading.Thread(target=run, name="sqlite-checkpoint", daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        with contextlib.suppress(sqlite3.Error, StorageUnavailable):
            self.commit_group()
        # On a full disk the checkpoint fails; the WAL stays and is replayed at next start.
        with contextlib.suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
