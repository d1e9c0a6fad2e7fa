"""The Blender add-on that submits a scene to this manager, packed as Blender installs it."""

from __future__ import annotations

import zipfile
from pathlib import Path

from flamenco_gui.resources import resource_path

ADDON = "flamenco_submit"


def write_addon_zip(dest: Path) -> Path:
    """Write the add-on as a .zip for Blender's Preferences > Add-ons > Install."""
    source = resource_path("blender_addon") / ADDON
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.rglob("*.py")):
            zf.write(path, f"{ADDON}/{path.relative_to(source)}")
    return dest
