"""One task on this node: run its commands, turn their output into reports.

Reports go to the outbox, never straight to the manager, so rendering never waits on
the network and nothing is lost while the manager is away.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.frame_check import FrameRules
from flamenco_gui.parsers import Parser, get_parser
from flamenco_gui.worker.frame_records import FrameRecords
from flamenco_gui.worker.outbox import Outbox
from flamenco_gui.worker.runner import TaskRunner, Tools

log = logging.getLogger(__name__)

# Progress at most this often (the manager's tables need no more); log lines are sent
# as often, or at once when this many are waiting.
REPORT_INTERVAL = 0.25
LOG_BATCH = 500
# The manager keeps an error for the task table; the full story is in the task log.
MAX_ERROR = 2000
NOTE_PREFIX = "[flamenco-worker] "
# A task's error names this many failed frames; the records name every one.
MAX_FRAME_FAILURES = 3

# Told of each file the program saved: (task id, lease, frame, path).
OnSaved = Callable[[int, int, int | None, str], None]
# Before a successful run is reported completed: sends the saved files somewhere
# (worker/frame_return.py), telling the run's activity how far it got (the second
# argument), and returns why that failed, or None.
Deliver = Callable[[list[str], Callable[[str], None]], Awaitable[str | None]]


class TaskSpec(BaseModel):
    """The part of `GET /tasks/{id}` a worker needs."""

    id: int
    parser: str | None = None
    frame_start: int | None = None
    frame_end: int | None = None
    commands: list[list[str]]
    storage: str = "shared"  # "manager": its files come through the manager
    # What a sound frame of this job looks like (frame_check.FrameRules); None: the
    # frames are not checked (an older manager, or a task that writes no frames).
    frame_check: dict[str, Any] | None = None


class TaskRun:
    """Runs one task under one lease. `abandon()` when the lease is lost."""

    def __init__(
        self,
        spec: TaskSpec,
        lease: int,
        tools: Tools,
        outbox: Outbox,
        on_saved: OnSaved | None = None,
        folder: Path | None = None,
        deliver: Deliver | None = None,
    ) -> None:
        """`folder`: where the commands run, and what relative saved paths are
        relative to; `deliver`: what a success waits for (a `manager` job's frames)."""
        self.task_id = spec.id
        self.lease = lease
        self._spec = spec
        self._outbox = outbox
        self._folder = folder
        self._deliver = deliver
        self.saved: list[str] = []
        self._runner = TaskRunner(tools, self._on_line, self._on_note, cwd=folder)
        self._parser = self._pick_parser(spec.parser)
        self._frames = FrameRecords()
        self._lines: list[str] = []
        self._sent_progress: dict[str, Any] = {}
        self._sent_frames: list[dict[str, Any]] = []
        self._activity: str | None = None  # the worker's own, once the program is done
        self._started = time.monotonic()
        self._abandoned = False
        self._on_saved = on_saved

    async def run(self) -> None:
        """Run the task's commands and queue its reports, the final status last."""
        count = len(self._spec.commands)
        log.info("task %d (lease %d): %d command(s)", self.task_id, self.lease, count)
        reporter = asyncio.create_task(self._report_periodically())
        try:
            code = await self._runner.run(self._spec.commands)
        finally:
            reporter.cancel()
        if self._abandoned:
            return
        self._frames.finish_task(self._spec.frame_start)
        if self._parser.failed:
            self._finish(TaskStatus.FAILED, f"{self._parser.error} (exit code {code})")
        elif code != 0:
            self._finish(TaskStatus.FAILED, f"exit code {code}")
        elif failures := await self._check_frames():
            shown = "; ".join(failures[:MAX_FRAME_FAILURES])
            more = len(failures) - MAX_FRAME_FAILURES
            self._finish(TaskStatus.FAILED, shown + (f"; and {more} more" if more > 0 else ""))
        else:
            error = await self._deliver(self.saved, self._set_activity) if self._deliver else None
            if self._abandoned:
                return
            self._finish(TaskStatus.FAILED if error else TaskStatus.COMPLETED, error)

    async def _check_frames(self) -> list[str]:
        """Every frame the task should have written, checked before it is reported
        (on a thread: decoding frames takes time the reports must not wait for)."""
        spec = self._spec
        if spec.frame_check is None:
            return []
        rules = FrameRules.from_dict(spec.frame_check)
        failures = await asyncio.to_thread(
            self._frames.check, spec.frame_start, spec.frame_end, rules, self._folder
        )
        if not self._abandoned:
            self._on_note(f"frames checked: {len(failures)} failed" if failures else "frames ok")
        return failures

    async def abandon(self, reason: str) -> None:
        """The manager gave the task away (canceled, requeued): kill it, report nothing more."""
        if self._abandoned:
            return
        self._abandoned = True
        log.warning("task %d: %s; killing it", self.task_id, reason)
        dropped = self._outbox.drop_task(self.task_id, self.lease)
        await self._runner.kill()
        log.info("task %d killed (%d unsent reports dropped)", self.task_id, dropped)

    def _pick_parser(self, name: str | None) -> Parser:
        try:
            return get_parser(name or "generic")
        except ValueError as exc:
            log.warning("task %d: %s; using the generic parser", self.task_id, exc)
            return get_parser("generic")

    # -- output ------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """A line of the worker's own in the task's log."""
        self._on_note(text)

    def _on_line(self, line: str) -> None:
        report = self._parser.feed(line)
        if report is not None:
            self._frames.feed(report)
        self._log(line)
        if report is None or not report.saved or self._abandoned:
            return
        saved = report.saved
        if self._folder is not None and not Path(saved).is_absolute():
            saved = str(self._folder / saved)  # Blender prints it as it was given
        self.saved.append(saved)
        if self._on_saved:
            self._on_saved(self.task_id, self.lease, self._parser.frame_current, saved)

    def _on_note(self, text: str) -> None:
        log.info("task %d: %s", self.task_id, text)
        self._log(NOTE_PREFIX + text)

    def _log(self, line: str) -> None:
        if self._abandoned:
            return
        self._lines.append(line)
        if len(self._lines) >= LOG_BATCH:
            self._flush_log()

    def _flush_log(self) -> None:
        if self._lines:
            self._outbox.put_log(self.task_id, self.lease, self._lines)
            self._lines = []

    async def _report_periodically(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL)
            if not self._abandoned:
                self._flush_log()
                self._report_progress()

    def _set_activity(self, activity: str) -> None:
        """What the worker itself does for the task after its program ended (its frames
        going back to the manager): reported as the program's activity is, at once (the
        periodic reporter has stopped; the caller throttles)."""
        if self._abandoned:
            return
        self._activity = activity
        self._report_progress()

    def _progress(self) -> dict[str, Any]:
        spec = self._spec
        fields: dict[str, Any] = {
            "frame_current": self._parser.frame_current,
            "activity": self._activity or self._parser.activity,
            "progress": self._parser.progress(spec.frame_start, spec.frame_end),
        }
        return {key: value for key, value in fields.items() if value is not None}

    def _report_progress(self) -> None:
        """Report when something a wrangler sees changed. The time spent rides along but
        does not trigger a report on its own: a render that prints nothing must not look
        alive to the manager's timeout. The frame records ride along only when they
        changed (an unsent report's records are kept when a newer one replaces it)."""
        progress = self._progress()
        frames = self._frames.records()
        new_frames = bool(frames) and frames != self._sent_frames
        if (progress and progress != self._sent_progress) or new_frames:
            self._sent_progress = progress
            elapsed = round(time.monotonic() - self._started, 2)
            body = {**progress, "time_cost": elapsed}
            if new_frames:
                body["frames"] = self._sent_frames = frames
            self._outbox.put_progress(self.task_id, self.lease, body)

    def _finish(self, status: TaskStatus, error: str | None) -> None:
        self._flush_log()
        self._report_progress()
        fields: dict[str, Any] = {
            "status": str(status),
            "time_cost": round(time.monotonic() - self._started, 2),
            "frames": self._frames.records(),
        }
        if error is not None:
            fields["error"] = error[:MAX_ERROR]
            log.warning("task %d failed: %s", self.task_id, error)
        else:
            log.info("task %d completed in %.1f s", self.task_id, fields["time_cost"])
        self._outbox.put_final(self.task_id, self.lease, fields)
