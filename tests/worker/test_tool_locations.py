"""Finding Blender on each OS, with the OS, PATH and the file system injected (macOS
and Windows places have not been checked on those systems)."""

from __future__ import annotations

from pathlib import PurePath

from flamenco_gui.worker.tool_locations import find_blender


def nothing_on_path(name: str) -> None:
    return None


def files(*paths: str):
    present = {str(p) for p in paths}
    return lambda path: str(path) in present


def test_blender_on_path_wins_everywhere() -> None:
    for system in ("linux", "macos", "windows"):
        assert find_blender(system, which=lambda n: "/x/blender", env={}) == "blender"


def test_linux_looks_in_snap_and_usr() -> None:
    found = find_blender("linux", nothing_on_path, files("/snap/bin/blender"), env={})
    assert found == "/snap/bin/blender"
    assert find_blender("linux", nothing_on_path, files(), env={}) == "blender"


def test_macos_app_bundle_system_wide_then_per_user() -> None:
    app = "/Applications/Blender.app/Contents/MacOS/Blender"
    assert find_blender("macos", nothing_on_path, files(app), env={"HOME": "/Users/r"}) == app
    mine = "/Users/r/Applications/Blender.app/Contents/MacOS/Blender"
    assert find_blender("macos", nothing_on_path, files(mine), env={"HOME": "/Users/r"}) == mine


def test_windows_takes_the_newest_version_under_program_files() -> None:
    base = r"C:\Program Files\Blender Foundation"
    listing = {base: ["Blender 3.6", "Blender 4.10", "Blender 4.2", "readme.txt"]}

    def listdir(path: PurePath) -> list[str]:
        return listing.get(str(path), [])

    exe = base + r"\Blender 4.10\blender.exe"
    present = files(base + r"\Blender 3.6\blender.exe", exe)
    env = {"ProgramFiles": r"C:\Program Files"}
    assert find_blender("windows", nothing_on_path, present, listdir, env) == exe  # 4.10 > 4.2
    assert find_blender("windows", nothing_on_path, files(), listdir, env) == "blender"
