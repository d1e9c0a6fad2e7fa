"""What a .blend says about its render, read without starting Blender.

The Submit dialog (and any submitter: no Qt here) fills in the scene's frame range and
shows its resolution, engine and output path before a job is made from it. Read with
blender-asset-tracer's blendfile reader (docs/decisions.md): it parses the file's DNA,
so it follows struct layouts across Blender versions, and opens gzip- and
zstd-compressed files. The file is read from disk (seconds on a slow share): callers on
the event loop run `read_blend_info` on a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from blender_asset_tracer import blendfile

# Blender's R_IMF_IMTYPE_* (DNA_scene_types.h) for the formats a render job can write.
IMAGE_TYPES = {
    0: "TARGA",
    1: "IRIS",
    4: "JPEG",
    14: "TARGA_RAW",
    17: "PNG",
    20: "BMP",
    22: "TIFF",
    23: "OPEN_EXR",
    28: "OPEN_EXR_MULTILAYER",
}


class BlendUnreadable(ValueError):
    """Not a .blend this reader understands (or not readable at all); the text says why."""


@dataclass(frozen=True)
class BlendInfo:
    scene: str
    frame_start: int
    frame_end: int
    frame_step: int
    resolution_x: int
    resolution_y: int
    percentage: int
    engine: str
    output: str  # as written in the file: `//` is relative to the .blend
    file_format: str | None  # one of IMAGE_TYPES' names, None for anything else

    @property
    def size(self) -> str:
        """The rendered size in pixels, the percentage applied (as Blender does)."""
        scale = self.percentage / 100
        return f"{int(self.resolution_x * scale)} x {int(self.resolution_y * scale)}"


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_blend_info(path: Path) -> BlendInfo:
    """The current scene's render settings; BlendUnreadable if there are none to read."""
    try:
        bf = blendfile.BlendFile(path)
    except OSError as exc:
        raise BlendUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # BAT raises its own errors (and struct's) for bad files
        raise BlendUnreadable(f"{path.name} is not a .blend file Flamenco can read") from exc
    try:
        scene = None
        globs = bf.code_index.get(b"GLOB") or []
        if globs:
            scene = globs[0].get_pointer(b"curscene")
        if scene is None:
            scenes = bf.code_index.get(b"SC") or []
            scene = scenes[0] if scenes else None
        if scene is None:
            raise BlendUnreadable(f"{path.name} has no scene")
        r = b"r"
        imtype = scene.get((r, b"im_format", b"imtype"))
        return BlendInfo(
            scene=_text(scene.id_name)[2:],
            frame_start=int(scene.get((r, b"sfra"))),
            frame_end=int(scene.get((r, b"efra"))),
            frame_step=int(scene.get((r, b"frame_step"))),
            resolution_x=int(scene.get((r, b"xsch"))),
            resolution_y=int(scene.get((r, b"ysch"))),
            percentage=int(scene.get((r, b"size"))),
            engine=_text(scene.get((r, b"engine"))),
            output=_text(scene.get((r, b"pic"))),
            file_format=IMAGE_TYPES.get(int(imtype)),
        )
    except BlendUnreadable:
        raise
    except Exception as exc:  # a field this Blender version lays out differently
        raise BlendUnreadable(f"cannot read the render settings of {path.name}: {exc}") from exc
    finally:
        bf.close()
