"""Reads Blender's `--background` console output (Cycles and EEVEE, 2.7x to 4.x).

Status lines look like
``Fra:3 Mem:9.9M (Peak 10.8M) | Time:00:00.06 | Remaining:00:01.20 | … | Sample 1/4``
and finished frames like ``Saved: '/out/000003.png'`` (quoted since 2.80; 2.7x wrote
``Saved: /out/0003.png Time: 00:00.56 (Saving: 00:00.02)`` on one line; 2.8x and
later print `` Time: 00:00.39 (Saving: 00:00.32)`` on the next line). The ``(Peak …)``
of a status line is Blender's own memory peak of the process so far; the ``Time:`` after
a save is its render time for that frame (saving included).
"""

from __future__ import annotations

import re

from flamenco_gui.parsers.base import LineReport

_FRAME = re.compile(r"^Fra:\s*(-?\d+)\b")
_REMAINING = re.compile(r"\bRemaining:\s*((?:\d+:)?\d+:\d+(?:\.\d+)?)")
_SAVED = re.compile(
    r"""^Saved:\s*(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>.+?))"""
    r"""(?:\s+Time:\s*(?P<time>(?:\d+:)?\d+:\d+(?:\.\d+)?)\b.*)?$"""
)
_PEAK = re.compile(r"\(Peak\s+(\d+(?:\.\d+)?)([KMG])\)")
_FRAME_TIME = re.compile(r"^\s*Time:\s*((?:\d+:)?\d+:\d+(?:\.\d+)?)\s*\(Saving:")
_UNIT_MB = {"K": 1 / 1024, "M": 1.0, "G": 1024.0}
# Movie outputs (FFMPEG) write no file per frame; they append the frame to the movie.
_APPENDED = re.compile(r"^Append frame (-?\d+)\b")
_ERROR = re.compile(r"^\s*Error:\s*(.*)$")
# Blender 2.8x-2.9x print this leak report after many *successful* renders; it is a
# developer's memory warning, not a render failure.
_NOT_AN_ERROR = ("Not freed memory blocks",)


def parse_duration(text: str) -> float:
    """Blender's ``[HH:]MM:SS.ss`` timecode in seconds."""
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_line(line: str) -> LineReport | None:
    """What one line of Blender output says, or None for the many lines that say nothing."""
    if match := _FRAME.match(line):
        remaining = _REMAINING.search(line)
        activity = line.rsplit("|", 1)[1].strip() if "|" in line else None
        peak = _PEAK.search(line)
        return LineReport(
            frame=int(match.group(1)),
            remaining=parse_duration(remaining.group(1)) if remaining else None,
            activity=activity or None,
            peak_memory_mb=float(peak.group(1)) * _UNIT_MB[peak.group(2)] if peak else None,
        )
    if match := _SAVED.match(line.strip()):
        path = match.group("sq") or match.group("dq") or match.group("bare")
        took = match.group("time")
        return LineReport(
            saved=path,
            frame_done=True,
            activity=f"Saved {path}",
            render_seconds=parse_duration(took) if took else None,
        )
    if match := _FRAME_TIME.match(line):
        return LineReport(render_seconds=parse_duration(match.group(1)))
    if match := _APPENDED.match(line):
        return LineReport(frame=int(match.group(1)), frame_done=True)
    if (match := _ERROR.match(line)) and not match.group(1).startswith(_NOT_AN_ERROR):
        message = line.strip()
        return LineReport(error=message, activity=message)
    return None
