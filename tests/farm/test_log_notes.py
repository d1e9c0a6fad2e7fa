"""The manager's lines in a task's log: an attempt's header goes with its first lines
or its end, never a file per claim; after a restart it is noted again unless the log
holds it already."""

from __future__ import annotations

from collections.abc import Sequence

from flamenco_gui.farm.log_notes import LogNotes


class Lines:
    """The log files, in memory (what store/task_logs.py appends and tails)."""

    def __init__(self) -> None:
        self.logs: dict[int, list[str]] = {}

    def append(self, task_id: int, lines: Sequence[str]) -> None:
        self.logs.setdefault(task_id, []).extend(lines)

    def tail(self, task_id: int, lines: int) -> bytes:
        return "".join(f"{line}\n" for line in self.logs.get(task_id, [])[-lines:]).encode()


def test_a_header_goes_with_the_first_lines_or_the_end_never_alone() -> None:
    files = Lines()
    notes = LogNotes(files, lambda worker_id: f"node-{worker_id}", clock=lambda: 100.0)
    notes.attempt_started(1, 7, 1, 50.0)
    assert files.logs == {}  # a claim writes nothing
    first, later = notes.headed(1, ["Fra:1"]), notes.headed(1, ["Fra:2"])
    assert first[0].startswith("[manager ") and "attempt on node-7 (worker 7), lease 1" in first[0]
    assert first[1:] == ["Fra:1"] and later == ["Fra:2"]  # once
    notes.attempt_started(2, 7, 3, 60.0)
    notes.attempt_completed(2)  # printed nothing: no header heads nothing
    assert notes.headed(2, ["late"]) == ["late"] and files.logs == {}
    notes.attempt_started(3, 8, 2, 70.0)
    notes.attempt_ended(3, "queued", "worker lost")
    header, end = files.logs[3]
    assert "lease 2" in header and end.endswith("requeued: worker lost")


def test_attempts_under_way_at_a_start_get_their_header_unless_written() -> None:
    files = Lines()
    notes = LogNotes(files, lambda worker_id: None)
    notes.attempt_started(1, 7, 4, 50.0)
    files.append(1, notes.headed(1, ["Fra:1"]))  # written before the stop
    again = LogNotes(files, lambda worker_id: None)
    again.under_way_after_start([(1, 7, 4, 50.0), (2, 8, 1, 60.0)])
    assert again.headed(1, ["Fra:2"]) == ["Fra:2"]
    assert "lease 1" in again.headed(2, ["Fra:1"])[0]
