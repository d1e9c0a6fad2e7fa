"""The Blender add-on that submits a scene to this manager, packed as Blender installs it.

The .zip carries what a stock Blender lacks, under `flamenco_submit/_vendor/`:
blender-asset-tracer (to pack a scene's files) and the manager's own submitter
(`flamenco_gui/submit/`: packing and the upload client, standard library only), so the
add-on packs and uploads exactly as `python main.py submit` does.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import blender_asset_tracer

import flamenco_gui
from flamenco_gui.resources import resource_path

ADDON = "flamenco_submit"
VENDOR = f"{ADDON}/_vendor"
# The part of this program the add-on runs (each imports only the standard library,
# blender-asset-tracer, and the others listed here).
SUBMITTER = ("__init__.py", "submit/__init__.py", "submit/packing.py", "submit/client.py")


def write_addon_zip(dest: Path) -> Path:
    """Write the add-on as a .zip for Blender's Preferences > Add-ons > Install."""
    source = resource_path("blender_addon") / ADDON
    ours = Path(flamenco_gui.__file__).parent
    bat = Path(blender_asset_tracer.__file__).parent
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.rglob("*.py")):
            zf.write(path, f"{ADDON}/{path.relative_to(source)}")
        for name in SUBMITTER:
            zf.write(ours / name, f"{VENDOR}/flamenco_gui/{name}")
        for path in sorted(bat.rglob("*.py")):
            zf.write(path, f"{VENDOR}/blender_asset_tracer/{path.relative_to(bat)}")
    return dest
