"""What the manager accepts as a frame preview: a small, well-formed JPEG."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from flamenco_gui.farm.errors import Invalid

MAX_BYTES = 512 * 1024
MAX_SIDE = 1024


def check_preview(data: bytes) -> None:
    """Raise Invalid unless `data` is a JPEG of at most MAX_SIDE pixels a side.

    Pillow reads only the header and verifies the stream, so a hostile upload costs
    little and never reaches the window's image decoder malformed.
    """
    if len(data) > MAX_BYTES:
        raise Invalid(f"preview: larger than {MAX_BYTES} bytes")
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, size = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Invalid(f"preview: not a readable image ({exc})") from exc
    if kind != "JPEG":
        raise Invalid(f"preview: must be a JPEG, not {kind}")
    if max(size) > MAX_SIDE:
        raise Invalid(f"preview: {size[0]}x{size[1]} is larger than {MAX_SIDE} px a side")
