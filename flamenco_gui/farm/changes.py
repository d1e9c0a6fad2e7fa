"""Pending changes, published once their transaction has committed.

Every rule changes the store inside `change()`. Inside an API request's `batch()` the
change joins the store's group transaction and is committed with its neighbours one
loop turn later (`flush`); the request answers after that commit, so a 2xx still means
"on disk". The window's table models and the SSE stream hear of a change only after
its commit: they never show what a rollback undid.

Commits are at least `COMMIT_SPACING` apart: an idle farm's request commits in the next
turn, a busy farm's wait a few milliseconds to share one commit with more requests. A
commit writes the pages its requests touched, and neighbouring tasks share them: one
of ten task cycles costs well under twice one of a single cycle (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, Protocol

from flamenco_gui.farm.errors import Unavailable
from flamenco_gui.farm.events import Change, EventBus, Kind
from flamenco_gui.store.errors import StorageUnavailable, StoreClosed

log = logging.getLogger(__name__)

LOAD: Any = object()  # an event whose row is read after the commit
COMMIT_SPACING = 0.004  # seconds between two group commits, at least
Loader = Callable[[Kind, int], dict[str, Any] | None]


class _Columns(dict[str, Any]):
    """Pending columns of one object: published as a partial change (events.py)."""


_NONE: Any = object()


def _record(pending: dict[tuple[Kind, int], Any], key: tuple[Kind, int], row: Any) -> None:
    """Note `row` for `key` over what is noted already: a whole row (LOAD, a given row,
    None for deleted) replaces; columns join columns or a given row, and leave LOAD or a
    deletion as they are (the read after the commit has them; a deleted row stays so)."""
    before = pending.get(key, _NONE)
    if not isinstance(row, _Columns) or before is _NONE:
        pending[key] = row
    elif isinstance(before, _Columns):
        pending[key] = _Columns({**before, **row})
    elif isinstance(before, dict):  # a whole row given: it takes the columns too
        pending[key] = {**before, **row}


class Transactions(Protocol):
    """The store's unit of work, as the farm uses it."""

    @property
    def in_transaction(self) -> bool: ...
    @property
    def group_open(self) -> bool: ...
    def change(self, *, group: bool = False) -> AbstractContextManager[None]: ...
    def commit_group(self) -> None: ...


class Batch:
    """The group commits one API request waits for before it answers."""

    __slots__ = ("_futures",)

    def __init__(self) -> None:
        self._futures: list[asyncio.Future[None]] = []

    def waits_for(self, fut: asyncio.Future[None]) -> None:
        if fut not in self._futures:
            self._futures.append(fut)

    async def committed(self) -> None:
        """Return once every change made in this batch is committed; raise if one
        could not be (Unavailable: the disk)."""
        for fut in self._futures:
            await fut


_BATCH: ContextVar[Batch | None] = ContextVar("farm_batch", default=None)
Pending = dict[tuple[Kind, int], Any]


class Changes:
    def __init__(self, tx: Transactions, bus: EventBus, load: Loader) -> None:
        self._tx = tx
        self.bus = bus
        self._load = load
        # Changes of the open transaction, one entry per object (its latest state wins),
        # and set-based ones (a slice of a job's tasks), in order.
        self._pending: Pending = {}
        self._bulk: list[Change] = []
        # The group transaction's changes and the future its requests wait on.
        self._group_pending: Pending = {}
        self._group_bulk: list[Change] = []
        self._group_done: asyncio.Future[None] | None = None
        self._last_commit = -COMMIT_SPACING  # time.monotonic() of the last group commit
        self.storage_error: str | None = None  # why the data dir cannot be written, if so

    def emit(self, kind: Kind, row_id: int, row: Any = LOAD) -> None:
        """Publish `row` (None: deleted; LOAD: read it after the commit) once the
        transaction commits."""
        _record(self._pending, (kind, row_id), row)

    def emit_fields(self, kind: Kind, row_id: int, fields: Mapping[str, Any]) -> None:
        """These columns of the object now have these values: published as they are,
        without re-reading the row (unless the same transaction asks for the whole
        row, or deletes it, which then wins)."""
        _record(self._pending, (kind, row_id), _Columns(fields))

    def emit_bulk(self, change: Change) -> None:
        """A set-based change (many tasks at once), published after the commit."""
        self._bulk.append(change)

    @contextmanager
    def change(self) -> Iterator[None]:
        """One transaction of the farm's; its changes are published after its commit."""
        batch = _BATCH.get()
        if batch is None and self._tx.group_open and not self._tx.in_transaction:
            self.flush()  # a plain change after grouped ones: theirs commit first
        try:
            with self._tx.change(group=batch is not None):
                yield
        except StoreClosed as exc:
            self._drop_pending()
            raise Unavailable(str(exc)) from exc  # stopping, not a disk problem: no banner
        except StorageUnavailable as exc:
            self._drop_pending()
            error = self._unavailable(str(exc))
            if self._group_done is not None and not self._tx.group_open:
                self._abandon_group(error)  # the whole group was rolled back
            raise error from exc
        except BaseException:
            self._drop_pending()
            raise
        if self._tx.in_transaction:
            return  # a nested change: the outer one publishes after its commit
        pending, self._pending = self._pending, {}
        bulk, self._bulk = self._bulk, []
        if batch is not None and self._tx.group_open:
            for key, row in pending.items():  # an earlier change's whole row wins
                _record(self._group_pending, key, row)
            self._group_bulk += bulk
            batch.waits_for(self._group_future())
            return
        if self.storage_error is not None:
            self.set_storage_error(None)
        self._publish(pending, bulk)

    def _drop_pending(self) -> None:
        self._pending.clear()
        self._bulk.clear()

    def batch(self) -> Batch:
        """Group the changes of the calling task (an API request) with their neighbours';
        `await batch.committed()` before answering."""
        batch = Batch()
        _BATCH.set(batch)
        return batch

    @contextmanager
    def unbatched(self) -> Iterator[None]:
        """Changes that commit one by one even inside a request: a job inserted or
        moved in slices must stop at the slice that fails, not learn of it a turn later."""
        token = _BATCH.set(None)
        try:
            yield
        finally:
            _BATCH.reset(token)

    def _group_future(self) -> asyncio.Future[None]:
        if self._group_done is None:
            loop = asyncio.get_running_loop()
            self._group_done = loop.create_future()
            wait = self._last_commit + COMMIT_SPACING - time.monotonic()
            if wait > 0:
                loop.call_later(wait, self.flush)
            else:
                loop.call_soon(self.flush)
        return self._group_done

    def flush(self) -> None:
        """Commit the grouped changes, answer who waits for them, publish them."""
        done, self._group_done = self._group_done, None
        pending, self._group_pending = self._group_pending, {}
        bulk, self._group_bulk = self._group_bulk, []
        if done is not None:
            self._last_commit = time.monotonic()
        try:
            self._tx.commit_group()
        except StorageUnavailable as exc:
            if done is not None:
                self._group_done = done
                self._abandon_group(self._unavailable(str(exc)))
            return
        if done is not None and not done.done():
            done.set_result(None)
        if self.storage_error is not None:
            self.set_storage_error(None)
        self._publish(pending, bulk)

    def _abandon_group(self, error: Exception) -> None:
        """The group transaction was rolled back: its changes are lost, say so to their
        requests (which answer 503) and publish nothing of them."""
        done, self._group_done = self._group_done, None
        self._group_pending = {}
        self._group_bulk = []
        if done is not None and not done.done():
            done.set_exception(error)
            done.exception()  # logged once as the storage error, not per waiter

    def _publish(self, pending: Pending, bulk: list[Change]) -> None:
        if not self.bus.active:
            return  # nobody listens (headless, no SSE client): no rows to read
        for (kind, row_id), row in pending.items():
            if row is LOAD:
                self.bus.publish(Change(kind, row_id, self._load(kind, row_id)))
            elif isinstance(row, _Columns):
                self.bus.publish(
                    Change(kind, row_id, dict(row), partial=True),
                    partial(self._whole, kind, row_id),
                )
            else:
                self.bus.publish(Change(kind, row_id, row))
        for change in bulk:
            self.bus.publish(change)

    def _whole(self, kind: Kind, row_id: int) -> Change:
        return Change(kind, row_id, self._load(kind, row_id))

    # -- the data dir's health ----------------------------------------------------------

    def _unavailable(self, why: str) -> Unavailable:
        self.set_storage_error(f"the data dir cannot be written: {why}")
        return Unavailable(self.storage_error or why)

    def unwritable(self, what: str, exc: OSError) -> Unavailable:
        """A file beside the database (a log, a preview) could not be written: 503."""
        self.set_storage_error(f"cannot write {what}: {exc.strerror}")
        return Unavailable(self.storage_error or what)

    def set_storage_error(self, error: str | None) -> None:
        """Tell the window (and /health) that writes fail, or work again."""
        self.storage_error = error
        if error:
            log.error("%s", error)
        self.bus.publish(Change("farm", 0, {"storage_error": error}))
