"""Pending changes: a write after the store closed (a request outliving the shutdown
grace) is refused as unavailable, without telling the wrangler the data dir is broken;
whole rows and partial columns noted in one transaction or group publish right; group
commits come at once on an idle farm and spaced on a busy one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from flamenco_gui.farm.changes import COMMIT_SPACING, Changes
from flamenco_gui.farm.errors import Unavailable
from flamenco_gui.farm.events import Change, EventBus
from flamenco_gui.farm.service import FarmService
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.task_logs import TaskLogs
from tests.farm.fakes import FakeStore, FakeTransactions


def test_a_write_after_close_is_unavailable_and_raises_no_banner(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    service = FarmService(store, TaskLogs(tmp_path / "logs"), Previews(tmp_path / "previews"))
    seen: list[object] = []
    service.events.subscribe(seen.append)
    store.close()
    with pytest.raises(Unavailable, match="shutting down"), service.changes.change():
        pass
    assert service.storage_error is None
    assert seen == []


@pytest.mark.parametrize("grouped", [False, True])
async def test_a_whole_row_asked_for_wins_over_columns_noted_after_it(grouped: bool) -> None:
    """One request acknowledges a remote request (the whole worker row is re-read) and
    then reports (a few columns): the window must get the whole row, also when the
    two are changes of one group commit."""
    store = FakeStore()
    worker = store.add_worker("w", activity="idle")
    bus = EventBus()
    seen: list[Change] = []
    bus.subscribe(seen.append, partial=True)
    changes = Changes(FakeTransactions(), bus, store.load)
    batch = changes.batch() if grouped else None
    with changes.change():
        store.update_worker(worker, {"control": {"action": "stop"}})
        changes.emit("worker", worker)
    with changes.change():
        store.update_worker(worker, {"last_seen": 5.0})
        changes.emit_fields("worker", worker, {"last_seen": 5.0})
        changes.emit_fields("task", 9, {"progress": 1.0})
    with changes.change():
        changes.emit_fields("task", 9, {"activity": "Fra:1"})
    if batch is not None:
        await asyncio.sleep(0)  # the group commits a loop turn later
        await batch.committed()
    mine = [c for c in seen if c.kind == "worker"]
    assert not mine[0].partial
    assert mine[0].row is not None and mine[0].row["control"] == {"action": "stop"}
    # In one group the whole row (read after the commit) covers the later columns;
    # committed one by one, the columns follow as a change of their own.
    assert [c.partial for c in mine[1:]] == ([] if grouped else [True])
    tasks = [c for c in seen if c.kind == "task"]
    if grouped:  # both changes' columns in one partial change
        assert [(c.partial, c.row) for c in tasks] == [
            (True, {"progress": 1.0, "activity": "Fra:1"})
        ]
    else:
        assert [(c.partial, c.row) for c in tasks] == [
            (True, {"progress": 1.0}),
            (True, {"activity": "Fra:1"}),
        ]


class _TimedCommits(FakeTransactions):
    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def commit_group(self) -> None:
        if self.group_open:
            self.at.append(time.monotonic())
        super().commit_group()


async def test_an_idle_farm_commits_at_once_and_a_busy_one_spaces_its_commits() -> None:
    """The first request's group commits in the next loop turn; requests that keep
    coming share commits at least COMMIT_SPACING apart, and every one is committed."""
    tx = _TimedCommits()
    changes = Changes(tx, EventBus(), FakeStore().load)

    async def request(i: int) -> None:
        batch = changes.batch()
        with changes.change():
            changes.emit_fields("task", i, {"progress": 1.0})
        await batch.committed()

    first = asyncio.ensure_future(request(0))
    await asyncio.sleep(0)  # the request's turn: its change joins the group
    await asyncio.sleep(0)  # the next turn: committed
    assert len(tx.at) == 1
    await first

    began = time.monotonic()
    done: list[asyncio.Future[None]] = []
    while time.monotonic() - began < 0.1:  # a request every loop turn for 100 ms
        done.append(asyncio.ensure_future(request(len(done) + 1)))
        await asyncio.sleep(0)
    await asyncio.gather(*done)
    gaps = [b - a for a, b in zip(tx.at, tx.at[1:], strict=False)]
    assert min(gaps) >= COMMIT_SPACING * 0.99, gaps
    assert len(done) > 10 * len(gaps)  # many requests a commit
    assert len(tx.at) <= 0.1 / COMMIT_SPACING + 3
