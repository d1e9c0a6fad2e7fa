"""Preview files are ordered oldest first even when file times tie (coarse clock ticks)."""

from __future__ import annotations

import os
from pathlib import Path

from flamenco_gui.store.previews import KEEP_PER_JOB, Previews


def test_frames_saved_within_one_clock_tick_keep_numeric_order(tmp_path: Path) -> None:
    previews = Previews(tmp_path)
    for frame in (4, 10):
        previews.save(1, 7, frame, b"\xff\xd8jpeg")
    stamp = 1_700_000_000_000_000_000
    for path in (tmp_path / "job-1").iterdir():
        os.utime(path, ns=(stamp, stamp))  # the same tick, as on a busy manager
    assert [p["frame"] for p in previews.list(1)] == [4, 10]
    assert previews.read(1, 10) == b"\xff\xd8jpeg"


def test_only_the_newest_are_kept(tmp_path: Path) -> None:
    previews = Previews(tmp_path)
    for frame in range(1, KEEP_PER_JOB + 4):
        previews.save(2, 1, frame, bytes([frame]))
    frames = [p["frame"] for p in previews.list(2)]
    assert frames == list(range(4, KEEP_PER_JOB + 4))
    assert previews.read(2, 1) is None


def test_temp_files_do_not_survive_a_restart(tmp_path: Path) -> None:
    """A write cut short by a crash leaves `frame_….tmp`; the next start removes it."""
    folder = tmp_path / "previews" / "job-1"
    folder.mkdir(parents=True)
    (folder / "frame_1_task_1.tmp").write_bytes(b"half a pic")
    (folder / "frame_2_task_1.jpg").write_bytes(b"kept")
    Previews(tmp_path / "previews")
    assert sorted(p.name for p in folder.iterdir()) == ["frame_2_task_1.jpg"]
