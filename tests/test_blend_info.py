"""A .blend's render settings read without Blender (blend_info.py): a scene built by
real Blender, and files that are not .blend files."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamenco_gui.blend_info import BlendUnreadable, read_blend_info
from tests.blender_scene import make_scene


def test_the_scene_of_a_real_blend(tmp_path: Path) -> None:
    info = read_blend_info(make_scene(tmp_path / "shot.blend", frames=12))
    assert (info.frame_start, info.frame_end, info.frame_step) == (1, 12, 1)
    assert (info.resolution_x, info.resolution_y, info.percentage) == (32, 24, 100)
    assert info.size == "32 x 24"
    assert info.engine == "CYCLES"
    assert info.file_format == "PNG"
    assert info.scene == "Scene"
    assert info.output  # Blender's default, "/tmp/"


def test_what_is_not_a_blend_says_why(tmp_path: Path) -> None:
    fake = tmp_path / "fake.blend"
    fake.write_bytes(b"BLENDER-v402 and then nothing")
    with pytest.raises(BlendUnreadable, match=r"not a \.blend file"):
        read_blend_info(fake)
    with pytest.raises(BlendUnreadable, match="No such file"):
        read_blend_info(tmp_path / "missing.blend")
