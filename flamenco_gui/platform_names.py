"""One spelling of an OS and a CPU architecture for build names, downloads and docs:
`linux`/`macos`/`windows`, `x86_64`/`arm64`. Pure: the worker and the manager share it."""

from __future__ import annotations

import platform as _platform
import re
import sys

_ARCH = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "x86_64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8": "arm64",
}


def os_name(platform: str | None = None) -> str:
    platform = sys.platform if platform is None else platform
    if platform.startswith("win"):
        return "windows"
    if platform == "darwin":
        return "macos"
    return "linux"


def arch_name(machine: str | None = None) -> str:
    machine = _platform.machine() if machine is None else machine
    return _ARCH.get(machine.lower(), machine.lower())


def exe_suffix(os: str) -> str:
    return ".exe" if os == "windows" else ""


def version_key(version: str) -> tuple[int, ...]:
    """`0.10.2` > `0.9.11`: numeric parts compared as numbers; anything after a part's
    digits (`1rc1`, `+local`) is ignored, so it sorts with its release."""
    return tuple(
        int(m.group()) if (m := re.match(r"\d+", p)) else 0
        for p in version.split("+")[0].split(".")
    )


def newer(candidate: str, current: str) -> bool:
    return version_key(candidate) > version_key(current)
