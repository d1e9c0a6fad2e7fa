"""The worker's on-disk outbox: order, bound, persistence, dropping a task run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from flamenco_gui.worker import outbox as outbox_module
from flamenco_gui.worker.outbox import Message, Outbox


def _drain(box: Outbox) -> list[Message]:
    """Deliver everything, as the delivery loop does: head, then ack."""
    delivered = []
    while (message := box.head()) is not None:
        delivered.append(message)
        box.ack(message.seq)
    return delivered


def _kinds(messages: list[Message]) -> list[tuple[int, str]]:
    return [(m.task_id, m.kind) for m in messages]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.jsonl"


def test_messages_come_out_in_order(path: Path) -> None:
    box = Outbox(path)
    box.put_log(1, 10, ["a"])
    box.put_progress(1, 10, {"frame_current": 1})
    box.put_final(1, 10, {"status": "completed"})
    box.put_log(2, 20, ["b"])
    delivered = _drain(box)
    assert _kinds(delivered) == [(1, "log"), (1, "progress"), (1, "final"), (2, "log")]
    assert delivered[2].payload == {"lease": 10, "status": "completed"}
    assert (delivered[0].method, delivered[0].path) == ("POST", "/tasks/1/log")
    assert (delivered[2].method, delivered[2].path) == ("PATCH", "/tasks/1")


def test_newer_progress_replaces_the_unsent_one(path: Path) -> None:
    box = Outbox(path)
    box.put_log(1, 10, ["first"])  # the head: possibly on the wire, never touched
    box.put_progress(1, 10, {"frame_current": 1, "activity": "a"})
    box.put_log(1, 10, ["second"])
    box.put_progress(1, 10, {"frame_current": 2})
    delivered = _drain(box)
    assert _kinds(delivered) == [(1, "log"), (1, "log"), (1, "progress")]
    assert delivered[2].body == {"frame_current": 2, "activity": "a"}


def test_log_lines_join_the_latest_unsent_batch_in_order(path: Path) -> None:
    box = Outbox(path, max_log_lines=4)
    box.put_log(1, 10, ["head"])
    for line in "abcdef":
        box.put_log(1, 10, [line])
    delivered = _drain(box)
    assert [m.body["lines"] for m in delivered] == [["head"], list("abcd"), list("ef")]


def test_nothing_joins_across_a_final_status(path: Path) -> None:
    box = Outbox(path)
    box.put_log(9, 1, ["head"])
    box.put_progress(1, 10, {"frame_current": 3})
    box.put_final(1, 10, {"status": "failed", "error": "x"})
    box.put_progress(1, 10, {"frame_current": 4})  # a confused late report stays after it
    assert _kinds(_drain(box)) == [(9, "log"), (1, "progress"), (1, "final"), (1, "progress")]


def test_bound_drops_oldest_reports_but_never_a_final(path: Path) -> None:
    box = Outbox(path, max_messages=3)
    box.put_log(1, 10, ["head"])
    box.put_final(1, 10, {"status": "completed"})
    for task in range(2, 6):  # different tasks: nothing merges
        box.put_log(task, 1, [f"task {task}"])
    assert len(box) == 3
    delivered = _drain(box)
    # The head (maybe on the wire) and the final survive; the newest log is kept.
    assert _kinds(delivered) == [(1, "log"), (1, "final"), (5, "log")]


def test_survives_a_restart(path: Path) -> None:
    box = Outbox(path, max_log_lines=10)
    box.put_log(1, 10, ["head"])
    box.put_log(1, 10, ["a"])
    box.put_log(1, 10, ["b"])  # an "extend" record
    box.put_progress(1, 10, {"frame_current": 1})
    box.put_progress(1, 10, {"frame_current": 2})  # supersedes the first
    box.put_final(1, 10, {"status": "completed"})
    box.ack(box.head().seq)
    box.close()

    again = Outbox(path, max_log_lines=10)
    assert len(again) == 3
    again.put_log(2, 20, ["new"])
    delivered = _drain(again)
    assert [(m.kind, m.body) for m in delivered] == [
        ("log", {"lines": ["a", "b"]}),
        ("progress", {"frame_current": 2}),
        ("final", {"status": "completed"}),
        ("log", {"lines": ["new"]}),
    ]
    assert delivered[-1].seq > delivered[-2].seq  # numbering goes on after a restart
    again.close()


def test_a_torn_last_record_is_skipped(path: Path) -> None:
    box = Outbox(path)
    box.put_final(1, 10, {"status": "completed"})
    box.close()
    with path.open("a") as journal:
        journal.write('{"seq": 2, "task_id": 1, "le')  # the worker died mid-append
    again = Outbox(path)
    assert _kinds(_drain(again)) == [(1, "final")]
    again.close()


def test_journal_is_emptied_when_drained(path: Path) -> None:
    box = Outbox(path)
    box.put_log(1, 10, ["x"])
    box.put_final(1, 10, {"status": "completed"})
    _drain(box)
    assert path.stat().st_size == 0
    box.put_log(2, 20, ["y"])
    box.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["task_id"] for r in records] == [2]


def test_journal_is_compacted_while_the_manager_is_away(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "_COMPACT_MIN_BYTES", 2000)
    box = Outbox(path)
    box.put_final(9, 1, {"status": "completed"})  # undelivered: the journal never drains
    for frame in range(500):
        box.put_progress(1, 10, {"frame_current": frame})
    assert path.stat().st_size < 4000
    box.close()
    again = Outbox(path)
    assert [m.body for m in _drain(again)] == [{"status": "completed"}, {"frame_current": 499}]
    again.close()


def test_drop_task_forgets_only_that_run(path: Path) -> None:
    box = Outbox(path)
    box.put_log(1, 10, ["old lease"])
    box.put_log(2, 20, ["other task"])
    box.put_progress(1, 10, {"frame_current": 5})
    box.put_log(1, 11, ["new lease"])
    box.put_final(1, 10, {"status": "completed"})
    assert box.drop_task(1, 10) == 3
    assert [(m.task_id, m.lease) for m in _drain(box)] == [(2, 20), (1, 11)]
    box.ack(12345)  # acking a dropped message is harmless


async def test_waiting_for_messages_and_for_the_drain(path: Path) -> None:
    box = Outbox(path)
    waiter = asyncio.create_task(box.next())
    await asyncio.sleep(0)
    assert not waiter.done()
    box.put_final(1, 10, {"status": "completed"})
    message = await asyncio.wait_for(waiter, 1)
    drained = asyncio.create_task(box.drained())
    await asyncio.sleep(0)
    assert not drained.done()
    box.ack(message.seq)
    await asyncio.wait_for(drained, 1)
    box.close()
