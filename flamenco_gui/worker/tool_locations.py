"""Where Blender is when `--blender` is not given and `blender` is not on PATH.

Render nodes rarely have Blender on PATH outside Linux: macOS installs it as an app
bundle, Windows under Program Files with the version in the folder name. The worker
looks in each OS's usual places and takes the newest version it finds; otherwise it
keeps the bare name, and a task then fails with "cannot start blender".

The OS, PATH lookup and the file system are parameters, so every branch is tested on
Linux (tests/unit/test_tool_locations.py); the macOS and Windows places have not been
checked on those systems.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from flamenco_gui.platform_names import os_name, version_key

LINUX_PLACES = (
    "/snap/bin/blender",
    "/usr/bin/blender",
    "/usr/local/bin/blender",
    "/opt/blender/blender",
)
MAC_APP = "Blender.app/Contents/MacOS/Blender"


def _listdir(path: PurePath) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _exists(path: PurePath) -> bool:
    return Path(path).is_file()


def find_blender(
    system: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
    exists: Callable[[PurePath], bool] = _exists,
    listdir: Callable[[PurePath], Iterable[str]] = _listdir,
    env: Mapping[str, str] | None = None,
) -> str:
    """A path to Blender, or `blender` when none is found (left to PATH at run time)."""
    system = system or os_name()
    env = os.environ if env is None else env
    if which("blender"):
        return "blender"
    for candidate in _candidates(system, listdir, env):
        if exists(candidate):
            return str(candidate)
    return "blender"


def _candidates(
    system: str, listdir: Callable[[PurePath], Iterable[str]], env: Mapping[str, str]
) -> list[PurePath]:
    if system == "macos":
        home = PurePosixPath(env.get("HOME", "/Users/Shared"))
        return [PurePosixPath("/Applications") / MAC_APP, home / "Applications" / MAC_APP]
    if system == "windows":
        found: list[PurePath] = []
        for var in ("ProgramFiles", "ProgramW6432", "ProgramFiles(x86)"):
            base = env.get(var)
            if not base:
                continue
            foundation = PureWindowsPath(base) / "Blender Foundation"
            # "Blender 4.2", "Blender 3.6", "Blender": the newest version first.
            folders = sorted(
                (n for n in listdir(foundation) if n.lower().startswith("blender")),
                key=lambda n: version_key(n.partition(" ")[2] or "0"),
                reverse=True,
            )
            found += [foundation / n / "blender.exe" for n in folders]
        return found
    return [PurePosixPath(p) for p in LINUX_PLACES]
