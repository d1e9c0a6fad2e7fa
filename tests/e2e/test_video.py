"""The video step: real Blender renders the frames, then real ffmpeg (Debian's) makes
an MP4 of them in a task that waits for every frame task; ffprobe counts its frames."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.blender_scene import make_scene, require_blender
from tests.procs import Farm, wait_until

pytestmark = [pytest.mark.blender, pytest.mark.timeout(240)]


def _ffprobe_frames(video: Path) -> int:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames,codec_name", "-of", "csv=p=0", str(video)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    codec, frames = done.stdout.strip().split(",")
    assert codec == "h264"
    return int(frames)


def test_blender_job_with_a_video_step_makes_a_playable_mp4(tmp_path: Path) -> None:
    blender = require_blender()
    if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
        pytest.fail("ffmpeg is missing (make test installs Debian's ffmpeg)")
    scene = make_scene(tmp_path / "shot.blend", frames=6)
    out = tmp_path / "render"
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        for name in ("render-01", "render-02"):
            farm.add_worker(name, "--blender", blender)
        settings = {
            "filepath": str(scene), "frame_start": 1, "frame_end": 6,
            "render_output": f"{out}/f_####", "format": "PNG",
            "video": {"output": str(out / "shot.mp4"), "fps": 12},
        }  # fmt: skip
        job = farm.http.post(
            "/jobs",
            {"name": "v", "type": "blender_render", "settings": settings, "chunk_size": 2},
        )
        assert job["tasks_total"] == 4
        done = wait_until(
            lambda: (
                (j := farm.http.get(f"/jobs/{job['id']}"))["status"] in ("completed", "failed")
                and j
            ),
            180,
            "the job",
        )
        assert done["status"] == "completed", done["task_counts"]
        tasks = farm.http.job_tasks(done["id"])
        video_task = tasks[-1]
        assert video_task["type"] == "ffmpeg"
        # It started only after every frame task had finished.
        frames_done = max(t["finished"] for t in tasks[:-1])
        assert video_task["started"] >= frames_done
        assert _ffprobe_frames(out / "shot.mp4") == 6
    finally:
        farm.stop()
        farm.dump_logs()


def test_ffmpeg_job_type(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(1, 6):  # real frames, made by ffmpeg itself
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color=c=0x{i * 40:02x}2040:s=32x24",
             "-frames:v", "1", str(frames / f"img_{i:03d}.png")],
            check=True,
        )  # fmt: skip
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        farm.add_worker("render-01")
        settings = {
            "input": f"{frames}/img_###.png", "output": str(tmp_path / "out.mp4"),
            "frame_start": 1, "frame_end": 5, "fps": 5,
        }  # fmt: skip
        job = farm.http.post(
            "/jobs", {"name": "f", "type": "ffmpeg", "settings": settings, "chunk_size": 2}
        )
        assert job["tasks_total"] == 1  # ffmpeg never splits the range
        wait_until(
            lambda: farm.http.get(f"/jobs/{job['id']}")["status"] == "completed", 60, "the video"
        )
        assert _ffprobe_frames(tmp_path / "out.mp4") == 5
    finally:
        farm.stop()
        farm.dump_logs()
