"""What parsers produce: one `LineReport` per interesting line, folded into a `Parser`.

Parsers are pure so the worker can feed them from a subprocess while tests feed them
recorded Blender output; neither knows about the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# An activity is shown in one table cell and sent a few times a second: a runaway line
# of output must not become a kilobyte-sized status.
MAX_ACTIVITY = 200


@dataclass(frozen=True, slots=True)
class LineReport:
    """What one line of output says. `None` means "this line says nothing about it"."""

    frame: int | None = None
    remaining: float | None = None  # seconds left on the current frame
    activity: str | None = None
    saved: str | None = None  # a file the program wrote
    frame_done: bool = False  # the current frame is finished (saved or appended)
    error: str | None = None  # the program reported an error (it may still exit 0)
    peak_memory_mb: float | None = None  # the program's memory peak so far, in MiB
    render_seconds: float | None = None  # the program's own time for the frame it saved


LineParser = Callable[[str], LineReport | None]


@dataclass(slots=True)
class Parser:
    """A task's running state, built by feeding its output lines one by one.

    One instance per task run: it remembers the current frame, which frames are done
    and every error seen, so the worker can report progress and a verdict at the end.
    """

    name: str
    parse_line: LineParser
    frame_current: int | None = None
    remaining: float | None = None
    activity: str | None = None
    saved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    frames_done: set[int] = field(default_factory=set)

    def feed(self, line: str) -> LineReport | None:
        """Read one line; return what it said (None if nothing) after updating the state."""
        report = self.parse_line(line.rstrip("\r\n"))
        if report is None:
            return None
        if report.frame is not None:
            # Blender moves to the next frame only when the previous one is finished,
            # even when it saves nothing (e.g. output disabled in the .blend).
            if self.frame_current is not None and report.frame != self.frame_current:
                self.frames_done.add(self.frame_current)
            self.frame_current = report.frame
        if report.remaining is not None:
            self.remaining = report.remaining
        if report.activity:
            self.activity = report.activity[:MAX_ACTIVITY]
        if report.saved is not None:
            self.saved.append(report.saved)
        if report.frame_done and self.frame_current is not None:
            self.frames_done.add(self.frame_current)
        if report.error is not None:
            self.errors.append(report.error)
        return report

    @property
    def failed(self) -> bool:
        """The parser's verdict: the program said it failed, whatever its exit code."""
        return bool(self.errors)

    @property
    def error(self) -> str | None:
        """The first error: later ones are usually consequences of it."""
        return self.errors[0] if self.errors else None

    def progress(self, frame_start: int | None, frame_end: int | None) -> float | None:
        """Percentage of the task's frames finished, or None when it cannot be known.

        Counts finished frames rather than the current frame number, so a task is at
        100 % only once its last frame is written, not when it starts rendering it.
        """
        if frame_start is None or frame_end is None or frame_end < frame_start:
            return None
        if not self.frames_done and self.frame_current is None:
            return None
        done = sum(1 for f in self.frames_done if frame_start <= f <= frame_end)
        return round(100.0 * done / (frame_end - frame_start + 1), 1)
