"""What the manager accepts as a frame preview: a small, well-formed JPEG."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from flamenco_gui.farm.errors import Invalid, TooLarge
from flamenco_gui.limits import LIMITS

MAX_BYTES = 512 * 1024
MAX_SIDE = 1024


def check_preview(data: bytes) -> None:
    """Raise Invalid unless `data` is a JPEG of at most MAX_SIDE pixels a side.

    Pillow reads only the header and verifies the stream, so a hostile upload costs
    little and never reaches the window's image decoder malformed. The pixels the
    header claims are checked (max_image_pixels) before anything is decoded.
    """
    if len(data) > MAX_BYTES:
        raise TooLarge(f"preview: larger than {MAX_BYTES} bytes")
    limit = LIMITS.max_image_pixels
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, size = image.format, image.size
            if size[0] * size[1] > limit:
                raise TooLarge(
                    f"preview: {size[0]}x{size[1]} px is over max_image_pixels ({limit})"
                )
            image.verify()
    except Image.DecompressionBombError as exc:  # Pillow's own, far higher, limit
        raise TooLarge(f"preview: over max_image_pixels ({limit}): {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Invalid(f"preview: not a readable image ({exc})") from exc
    if kind != "JPEG":
        raise Invalid(f"preview: must be a JPEG, not {kind}")
    if max(size) > MAX_SIDE:
        raise Invalid(f"preview: {size[0]}x{size[1]} is larger than {MAX_SIDE} px a side")
