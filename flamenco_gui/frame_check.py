"""Is a rendered frame really there and sound? One file in, a verdict out.

The same checks run in three places: on the worker before it reports a task completed
(the frames it just wrote), on the manager for "Check frames" (the job's output folder)
and on the manager for a frame file that came back to it (`check_frame` on the path it
arrived at). Pure apart from reading the one file, so any of them can call it on a
thread (decoding a 4K EXR takes a while; never on the event loop).

The checks, in order, each named in the reason so a wrangler knows what to look at:

- ``exists``: there is a file.
- ``size``: it holds at least `min_bytes` (a crashed render often leaves 0 bytes).
- ``decode``: the whole image decodes (a truncated PNG opens but does not load).
  Pillow for PNG, JPEG, TIFF and its other formats; OpenImageIO for OpenEXR, HDR, DPX
  and Cineon, which Pillow cannot read (docs/decisions.md).
- ``resolution``: it has the expected width and height, when they are known.
- ``uniform``: not every pixel the same colour (an all-black frame is the classic sign
  of a missing texture or a lamp left off), unless the job allows it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

# Smaller than any real image file of ours: a valid 1x1 PNG alone is 67 bytes.
MIN_FRAME_BYTES = 64
# Formats Pillow cannot decode; OpenImageIO reads them.
OIIO_EXTENSIONS = (".exr", ".hdr", ".dpx", ".cin")
CHECKS = ("exists", "size", "decode", "resolution", "uniform")


@dataclass(frozen=True, slots=True)
class FrameRules:
    """What a sound frame of one job looks like."""

    min_bytes: int = MIN_FRAME_BYTES
    resolution: tuple[int, int] | None = None  # (width, height); None: not checked
    allow_uniform: bool = False  # a job of title cards or mattes may be one colour

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_bytes": self.min_bytes,
            "resolution": list(self.resolution) if self.resolution else None,
            "allow_uniform": self.allow_uniform,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> FrameRules:
        if not raw:
            return cls()
        res = raw.get("resolution")
        return cls(
            min_bytes=int(raw.get("min_bytes") or MIN_FRAME_BYTES),
            resolution=(int(res[0]), int(res[1])) if res else None,
            allow_uniform=bool(raw.get("allow_uniform")),
        )


@dataclass(frozen=True, slots=True)
class FrameVerdict:
    """`check` is None for a sound frame, else the name of the first check it failed."""

    path: str
    check: str | None
    detail: str = ""
    bytes: int | None = None
    resolution: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return self.check is None

    def reason(self, frame: int | None) -> str:
        """One line for a task's error or the check's answer: frame, check, detail."""
        what = f"frame {frame}" if frame is not None else "output"
        return f"{what} failed the {self.check} check: {self.detail} ({self.path})"


def check_frame(path: str | os.PathLike[str], rules: FrameRules | None = None) -> FrameVerdict:
    """Check one frame file against `rules`; never raises for a bad file."""
    rules = rules or FrameRules()
    name = os.fspath(path)
    try:
        size = Path(name).stat().st_size
    except FileNotFoundError:
        return FrameVerdict(name, "exists", "no such file")
    except OSError as exc:
        return FrameVerdict(name, "exists", f"cannot read it: {exc.strerror or exc}")
    if size < rules.min_bytes:
        return FrameVerdict(
            name, "size", f"{size} bytes, at least {rules.min_bytes} expected", size
        )
    try:
        width, height, extrema = _decode(name)
    except Exception as exc:  # a broken file raises whatever its decoder raises
        return FrameVerdict(name, "decode", f"does not decode: {exc}", size)
    if rules.resolution is not None and (width, height) != rules.resolution:
        want = f"{rules.resolution[0]}x{rules.resolution[1]}"
        return FrameVerdict(
            name, "resolution", f"{width}x{height}, {want} expected", size, (width, height)
        )
    if not rules.allow_uniform and all(low == high for low, high in extrema):
        colour = tuple(low for low, _ in extrema)
        return FrameVerdict(
            name, "uniform", f"every pixel is the same colour {colour}", size, (width, height)
        )
    return FrameVerdict(name, None, "", size, (width, height))


Extrema = list[tuple[float, float]]


def _decode(path: str) -> tuple[int, int, Extrema]:
    """Width, height and each channel's (min, max), from a full decode."""
    if path.lower().endswith(OIIO_EXTENSIONS):
        return _decode_oiio(path)
    try:
        with Image.open(path) as image:
            image.load()  # the whole image: a truncated file fails here, not at open
            extrema = image.getextrema()
            size = image.size
    except Image.UnidentifiedImageError:
        return _decode_oiio(path)  # a format only OpenImageIO knows
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    return size[0], size[1], [(float(lo), float(hi)) for lo, hi in bands]


def _decode_oiio(path: str) -> tuple[int, int, Extrema]:
    import OpenImageIO as oiio

    source = oiio.ImageInput.open(path)
    if source is None:
        raise ValueError(oiio.geterror() or "OpenImageIO cannot open it")
    try:
        spec = source.spec()
        pixels = source.read_image(0, 0, 0, spec.nchannels, "float")
        if pixels is None:
            raise ValueError(source.geterror() or "cannot read its pixels")
    finally:
        source.close()
    flat = pixels.reshape(-1, spec.nchannels)
    lows, highs = flat.min(axis=0), flat.max(axis=0)
    return (
        spec.width,
        spec.height,
        [(float(lo), float(hi)) for lo, hi in zip(lows, highs, strict=True)],
    )
