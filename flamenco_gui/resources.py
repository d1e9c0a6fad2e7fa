"""Files shipped in `resources/`, found from a checkout and inside the executable."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_path(name: str) -> Path:
    """PyInstaller unpacks bundled data under `sys._MEIPASS`; a checkout has it beside
    the package."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    return base / "resources" / name
