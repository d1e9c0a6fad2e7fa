"""Output parsers by name: a task names its parser, the worker feeds it every line.

Pure modules (no I/O), shared by the worker and the tests.
"""

from __future__ import annotations

from flamenco_gui.parsers import blender_render, generic
from flamenco_gui.parsers.base import LineParser, LineReport, Parser

__all__ = ["PARSERS", "LineReport", "Parser", "get_parser"]

PARSERS: dict[str, LineParser] = {
    "blender_render": blender_render.parse_line,
    "generic": generic.parse_line,
}


def get_parser(name: str) -> Parser:
    """A fresh parser (its own state) for one task run.

    Raises ValueError naming the known parsers, so a typo in a job surfaces clearly.
    """
    try:
        return Parser(name=name, parse_line=PARSERS[name])
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise ValueError(f"unknown parser {name!r} (known: {known})") from None
