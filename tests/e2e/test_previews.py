"""Real Blender renders; the worker sends a thumbnail of the frames it saves; the
manager keeps them for the job; each is a small JPEG of the real frame."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.blender_scene import make_scene, require_blender
from tests.procs import Farm, wait_until

pytestmark = [pytest.mark.blender, pytest.mark.timeout(240)]


def test_previews_arrive_while_the_job_renders(tmp_path: Path) -> None:
    blender = require_blender()
    scene = make_scene(tmp_path / "shot.blend", frames=4)
    out = tmp_path / "render"
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        farm.add_worker("render-01", "--blender", blender)
        settings = {
            "filepath": str(scene), "frame_start": 1, "frame_end": 4,
            "render_output": f"{out}/f_####", "format": "PNG",
        }  # fmt: skip
        job = farm.http.post(
            "/jobs", {"name": "p", "type": "blender_render", "settings": settings, "chunk_size": 4}
        )
        wait_until(
            lambda: farm.http.get(f"/jobs/{job['id']}")["status"] == "completed", 150, "the render"
        )
        previews = wait_until(lambda: farm.http.get(f"/jobs/{job['id']}/previews"), 10, "previews")
        assert {p["frame"] for p in previews} <= {1, 2, 3, 4}
        newest = farm.http.request("GET", f"/jobs/{job['id']}/preview")
        assert newest.status == 200
        thumb = Image.open(io.BytesIO(newest.body))
        latest = max(p["frame"] for p in previews)  # the latest: the highest frame
        frame = Image.open(out / f"f_{latest:04d}.png")
        assert thumb.format == "JPEG" and thumb.size == frame.size  # 32x24 needs no shrinking
        # It is that frame: the average colour matches the real PNG's closely.
        a = thumb.convert("RGB").resize((1, 1)).getpixel((0, 0))
        b = frame.convert("RGB").resize((1, 1)).getpixel((0, 0))
        assert all(abs(x - y) <= 12 for x, y in zip(a, b, strict=True)), (a, b)
    finally:
        farm.stop()
        farm.dump_logs()
