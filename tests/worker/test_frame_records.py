"""A task run's frame records from Blender's lines (recorded output, a fake clock), and
the one record of a task that reports no frames."""

from __future__ import annotations

import pytest

from flamenco_gui.parsers.blender_render import parse_line
from flamenco_gui.worker.frame_records import FrameRecords

LINES = [
    (1.5, "Fra:1 Mem:9.40M (Peak 10.83M) | Time:00:00.00 | Syncing Cube"),
    (2.0, "Fra:1 Mem:12.00M (Peak 14.50M) | Time:00:00.50 | Sample 4/4"),
    (2.5, "Saved: '/out/000001.png'"),
    (2.5, " Time: 00:00.98 (Saving: 00:00.01)"),
    (3.0, "Fra:2 Mem:9.40M (Peak 14.50M) | Time:00:00.00 | Syncing Cube"),
    (4.0, "Saved: '/out/000002.png'"),
    (4.0, " Time: 00:01.40 (Saving: 00:00.01)"),
]


def test_blender_frames_take_their_times_and_figures_from_the_output() -> None:
    now = [1.0]
    records = FrameRecords(clock=lambda: now[0])
    for when, line in LINES:
        now[0] = when
        report = parse_line(line)
        assert report is not None
        records.feed(report)
    first, second = records.records()
    assert first == {
        "frame": 1, "started": 1.5, "startup_seconds": 0.5, "finished": 2.5,
        "path": "/out/000001.png", "peak_memory_mb": pytest.approx(14.5), "render_seconds": 0.98,
    }  # fmt: skip
    # The second frame starts where the first was saved; no start-up of its own.
    assert second["started"] == 2.5 and second["finished"] == 4.0
    assert "startup_seconds" not in second and second["render_seconds"] == 1.4


def test_a_task_without_frames_gets_one_record() -> None:
    now = [10.0]
    records = FrameRecords(clock=lambda: now[0])
    now[0] = 13.5
    records.finish_task(7)
    assert records.records() == [
        {"frame": 7, "started": 10.0, "finished": 13.5, "render_seconds": 3.5}
    ]


def test_missing_and_broken_frames_fail_the_check(tmp_path) -> None:
    from flamenco_gui.frame_check import FrameRules

    records = FrameRecords(clock=lambda: 1.0)
    for line in (
        "Fra:1 Mem:1M (Peak 1M) | x",
        f"Saved: '{tmp_path / 'a.png'}'",
        "Fra:2 Mem:1M | x",
    ):
        report = parse_line(line)
        assert report is not None
        records.feed(report)
    (tmp_path / "a.png").write_bytes(b"")
    failures = records.check(1, 3, FrameRules())
    assert failures[0].startswith("frame 1 failed the size check: 0 bytes")
    assert failures[1:] == [
        "frame 2 failed the exists check: no file was saved",
        "frame 3 failed the exists check: no file was saved",
    ]
