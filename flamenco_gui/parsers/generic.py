"""For plain commands: the latest output line is the activity, nothing more.

Deliberately conservative: an arbitrary program's "error" lines are often warnings,
so a generic task fails only by its exit code.
"""

from __future__ import annotations

from flamenco_gui.parsers.base import LineReport


def parse_line(line: str) -> LineReport | None:
    """Every non-blank line becomes the activity."""
    text = line.strip()
    return LineReport(activity=text) if text else None
