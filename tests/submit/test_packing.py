"""Packing with blender-asset-tracer: a real .blend (made by Blender) with a texture and
a linked library whose own texture sits outside its folder; no Blender to pack it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from flamenco_gui.submit.command import Progress, parse_frames
from flamenco_gui.submit.packing import PackedFile, pack, read_scene, under_path_variable
from tests.blender_scene import make_textured_project

pytestmark = pytest.mark.blender


def test_a_pack_lists_every_dependency_with_its_hash(tmp_path: Path) -> None:
    scene = make_textured_project(tmp_path / "proj", 7, (255, 0, 0), (0, 0, 255))
    assert read_scene(scene).frame_start == 1 and read_scene(scene).frame_end == 7
    with pack(scene) as packed:
        assert packed.blend == "scene.blend" and packed.missing == []
        by_path = {f.path: f for f in packed.files}
        assert set(by_path) == {
            "scene.blend", "lib/props.blend", "textures/left.png", "textures/right.png",
        }  # fmt: skip
        for f in packed.files:
            assert hashlib.sha256(f.source.read_bytes()).hexdigest() == f.sha256
            assert f.source.stat().st_size == f.size
    # The project's root elsewhere: the scene lies deeper in the pack, paths stay relative.
    with pack(scene, project=tmp_path) as packed:
        assert packed.blend == "proj/scene.blend"
        assert "proj/lib/props.blend" in {f.path for f in packed.files}


def test_missing_files_are_reported(tmp_path: Path) -> None:
    scene = make_textured_project(tmp_path / "proj", 2, (1, 2, 3), (4, 5, 6))
    (tmp_path / "proj" / "textures" / "left.png").unlink()
    with pack(scene) as packed:
        assert [p.name for p in packed.missing] == ["left.png"]
        assert "textures/left.png" not in {f.path for f in packed.files}


def test_frames_storage_default_and_plain_progress(tmp_path: Path) -> None:
    assert parse_frames("3-9") == (3, 9) and parse_frames("5") == (5, 5)
    with pytest.raises(SystemExit):
        parse_frames("9-3")
    shared = {"storage": {"linux": str(tmp_path / "nas"), "windows": "R:\\"}}
    assert under_path_variable(tmp_path / "nas" / "a.blend", shared)
    assert not under_path_variable(tmp_path / "home" / "a.blend", shared)
    out = io.StringIO()
    progress = Progress(10, out)
    f = PackedFile("tex.png", tmp_path, "0" * 64, 10)
    progress.on_bytes(f, 4)
    progress.on_bytes(f, 6)
    progress.on_resume(f, 4)
    assert out.getvalue().splitlines() == [
        "uploading tex.png (10 bytes)", "resuming tex.png at byte 4 of 10",
    ]  # fmt: skip
