"""Two-way path variables for farms that mix Linux, Windows and macOS.

A variable names one storage place as each platform mounts it, e.g. `storage` =
`/mnt/render` (Linux), `R:\\` (Windows), `/Volumes/render` (macOS). A submitted job's
paths are turned into `{storage}/shots/sh010.blend` (whichever platform they were
written for), and each worker gets them back in its own platform's form when it
fetches the task. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLATFORMS = ("linux", "windows", "darwin")
Variables = Mapping[str, Mapping[str, str]]  # name -> platform -> value

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def platform_of(system: str | None) -> str:
    """The platform from a worker's `system` text ("Windows 10", "Darwin 23.1", …)."""
    text = (system or "").lower()
    if text.startswith("win"):
        return "windows"
    if text.startswith(("darwin", "mac")):
        return "darwin"
    return "linux"


def _norm(path: str, platform: str) -> str:
    """Comparable form: `/` separators, and case folded on Windows."""
    path = path.replace("\\", "/")
    return path.lower() if platform == "windows" else path


def to_variables(arg: str, variables: Variables) -> str:
    """Replace the longest matching variable value at the start of `arg`."""
    candidates = sorted(
        ((value, name, platform) for name, values in variables.items()
         for platform, value in values.items() if value),
        key=lambda c: -len(c[0]),
    )  # fmt: skip
    for value, name, platform in candidates:
        root = _norm(value, platform).rstrip("/")
        head = _norm(arg, platform)
        if head == root or head.startswith(root + "/"):
            rest = arg[len(root) :].replace("\\", "/")
            if not rest.startswith("/") and rest:
                rest = "/" + rest
            return "{" + name + "}" + rest
    return arg


def resolve(arg: str, variables: Variables, platform: str) -> str:
    """`{storage}/shots/a.blend` in the form `platform` uses; unknown names stay as they are."""
    match = re.match(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}(/.*)?$", arg)
    if not match or match.group(1) not in variables:
        return arg
    value = variables[match.group(1)].get(platform)
    if value is None:
        return arg
    rest = match.group(2) or ""
    if platform == "windows":
        rest = rest.replace("/", "\\")
    return value.rstrip("/\\") + rest if rest else value


def validate(variables: Mapping[str, Mapping[str, str]]) -> None:
    """Raise ValueError naming what is wrong."""
    for name, values in variables.items():
        if not NAME.match(name):
            raise ValueError(f"{name!r}: a variable name is letters, digits and _")
        unknown = set(values) - set(PLATFORMS)
        if unknown:
            raise ValueError(f"{name}.{sorted(unknown)[0]}: platforms are {', '.join(PLATFORMS)}")
        for platform, value in values.items():
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name}.{platform}: must be a non-empty path")
