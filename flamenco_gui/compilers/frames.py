"""Frame-numbered file names: Blender's `####` patterns and ffmpeg's `%04d`."""

from __future__ import annotations

import re

# The extension Blender adds for each image format (use_file_extension is on by default).
EXTENSIONS = {
    "PNG": ".png", "JPEG": ".jpg", "OPEN_EXR": ".exr", "OPEN_EXR_MULTILAYER": ".exr",
    "TIFF": ".tif", "BMP": ".bmp", "TARGA": ".tga", "TARGA_RAW": ".tga", "IRIS": ".rgb",
    "JP2": ".jp2", "HDR": ".hdr", "DPX": ".dpx", "CINEON": ".cin", "WEBP": ".webp",
}  # fmt: skip

_HASHES = re.compile(r"#+")


def blender_frame_files(render_output: str, fmt: str) -> str:
    """The printf pattern of the files Blender writes for `render_output`.

    Blender fills the last run of `#` with the zero-padded frame, or appends four
    digits when there is none, then adds the format's extension.
    """
    runs = list(_HASHES.finditer(render_output))
    if runs:
        last = runs[-1]
        pattern = (
            f"{render_output[: last.start()]}%0{len(last.group())}d{render_output[last.end() :]}"
        )
    else:
        pattern = render_output + "%04d"
    return pattern.replace("%%", "%") + EXTENSIONS.get(fmt, "")


def hashes_to_printf(path: str) -> str:
    """`/r/f_####.png` -> `/r/f_%04d.png` (the last run of `#`)."""
    runs = list(_HASHES.finditer(path))
    if not runs:
        return path
    last = runs[-1]
    return f"{path[: last.start()]}%0{len(last.group())}d{path[last.end() :]}"
