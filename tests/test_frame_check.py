"""The frame check on real files: PNG/TIFF/JPEG through Pillow, EXR through OpenImageIO."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from PIL import Image

from flamenco_gui.frame_check import FrameRules, check_frame


def noisy(path: Path, size: tuple[int, int] = (32, 24)) -> Path:
    pixels = np.random.default_rng(1).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("name", ["f.png", "f.tif", "f.jpg"])
def test_a_sound_frame_passes(tmp_path: Path, name: str) -> None:
    verdict = check_frame(noisy(tmp_path / name), FrameRules(resolution=(32, 24)))
    assert verdict.ok and verdict.resolution == (32, 24) and verdict.bytes


def test_each_check_names_itself(tmp_path: Path) -> None:
    assert check_frame(tmp_path / "none.png").check == "exists"
    (tmp_path / "empty.png").write_bytes(b"")
    empty = check_frame(tmp_path / "empty.png")
    assert empty.check == "size" and empty.reason(4).startswith("frame 4 failed the size check: 0")
    good = noisy(tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    assert check_frame(tmp_path / "cut.png").check == "decode"
    wrong = check_frame(noisy(tmp_path / "big.png", (64, 48)), FrameRules(resolution=(32, 24)))
    assert wrong.check == "resolution" and "64x48, 32x24 expected" in wrong.detail
    Image.new("RGBA", (32, 24), (0, 0, 0, 255)).save(tmp_path / "black.png")
    black = check_frame(tmp_path / "black.png")
    assert black.check == "uniform" and "(0.0, 0.0, 0.0, 255.0)" in black.detail
    assert check_frame(tmp_path / "black.png", FrameRules(allow_uniform=True)).ok


def _exr(path: Path, pixels: np.ndarray) -> Path:
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), oiio.ImageSpec(32, 24, 4, "half"))
    out.write_image(pixels)
    out.close()
    return path


def test_exr_is_decoded_by_openimageio(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    good = _exr(tmp_path / "good.exr", rng.random((24, 32, 4), dtype=np.float32))
    assert check_frame(good, FrameRules(resolution=(32, 24))).ok
    flat = _exr(tmp_path / "flat.exr", np.zeros((24, 32, 4), dtype=np.float32))
    assert check_frame(flat).check == "uniform"
    data = good.read_bytes()
    (tmp_path / "cut.exr").write_bytes(data[: len(data) // 2])
    assert check_frame(tmp_path / "cut.exr").check == "decode"
