"""Two-way path variables: any platform's path in, each worker's own form out."""

from __future__ import annotations

import pytest

from flamenco_gui.farm.path_variables import platform_of, resolve, to_variables, validate

V = {
    "storage": {"linux": "/mnt/render", "windows": "R:\\", "darwin": "/Volumes/render"},
    "library": {"linux": "/mnt/lib", "windows": "\\\\fileserver\\lib"},
}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("R:\\shots\\sh010.blend", "{storage}/shots/sh010.blend"),
        ("r:/shots/sh010.blend", "{storage}/shots/sh010.blend"),  # Windows ignores case
        ("/mnt/render/out/f_####", "{storage}/out/f_####"),
        ("/Volumes/render/x.blend", "{storage}/x.blend"),
        ("\\\\FileServer\\lib\\tex.png", "{library}/tex.png"),  # UNC
        ("/mnt/renderfarm/x", "/mnt/renderfarm/x"),  # not a prefix on a path boundary
        ("/MNT/render/x", "/MNT/render/x"),  # Linux is case-sensitive
        ("--background", "--background"),
    ],
)
def test_paths_become_variables(given: str, stored: str) -> None:
    assert to_variables(given, V) == stored


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", "/mnt/render/shots/sh010.blend"),
        ("windows", "R:\\shots\\sh010.blend"),
        ("darwin", "/Volumes/render/shots/sh010.blend"),
    ],
)
def test_variables_resolve_per_platform(platform: str, expected: str) -> None:
    assert resolve("{storage}/shots/sh010.blend", V, platform) == expected


def test_unc_and_unknown_names() -> None:
    assert resolve("{library}/tex.png", V, "windows") == "\\\\fileserver\\lib\\tex.png"
    assert resolve("{library}/tex.png", V, "darwin") == "{library}/tex.png"  # no value set
    assert resolve("{nope}/x", V, "linux") == "{nope}/x"


def test_platform_of_worker_system() -> None:
    assert platform_of("Windows 10") == "windows"
    assert platform_of("Darwin 23.1.0") == "darwin"
    assert platform_of("Linux 6.1.0") == "linux"


def test_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="name"):
        validate({"bad name": {"linux": "/x"}})
    with pytest.raises(ValueError, match="platforms"):
        validate({"s": {"amiga": "/x"}})
    with pytest.raises(ValueError, match=r"s\.linux"):
        validate({"s": {"linux": " "}})
