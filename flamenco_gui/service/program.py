"""How a service starts this program: the one-file executable itself when frozen, else
this interpreter with the checkout's main.py. Absolute paths, because a service manager
starts it with neither our PATH nor our working directory."""

from __future__ import annotations

import sys
from pathlib import Path

MAIN = Path(__file__).resolve().parents[2] / "main.py"


def program() -> list[str]:
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    return [str(Path(sys.executable).absolute()), str(MAIN)]
