"""Runs a task's commands (argv lists, never a shell) one after another.

Each command gets its own session and so its own process group: Blender and whatever
it spawns can be killed together, and a Ctrl+C in the worker's terminal does not reach
the render directly (the agent decides what to do with it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flamenco_gui.worker.process_control import ProcessControl, program_name

log = logging.getLogger(__name__)

# SIGTERM first so Blender can remove its temp files; SIGKILL after this many seconds.
KILL_GRACE = 1.0
# A program printing megabytes without a newline must not exhaust the worker's memory.
MAX_LINE = 16 * 1024
_CHUNK = 64 * 1024
# ffmpeg and friends redraw progress with a bare \r: each redraw is a line for us.
_LINE_END = re.compile(rb"\r\n|\r|\n")
# The shell's convention for "command not found", so the log reads familiar.
EXIT_NOT_FOUND = 127

LineSink = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Tools:
    """Where this node's programs live. Tasks name them by bare name; nodes differ."""

    blender: str = "blender"
    ffmpeg: str = "ffmpeg"
    # --slots (worker/slots.py): Blender's thread share, and the slot's environment.
    blender_threads: int | None = None
    env: tuple[tuple[str, str], ...] = ()

    def resolve(self, argv: Sequence[str]) -> list[str]:
        """`argv` with a bare `blender`/`ffmpeg` replaced by this node's path; Blender
        given this slot's `--threads` unless the job set its own."""
        program = {"blender": self.blender, "ffmpeg": self.ffmpeg}.get(argv[0], argv[0])
        rest = list(argv[1:])
        own = any(a in ("-t", "--threads") for a in rest)
        if argv[0] == "blender" and self.blender_threads and not own:
            rest = ["--threads", str(self.blender_threads), *rest]
        return [program, *rest]

    def environment(self) -> dict[str, str] | None:
        """The commands' environment: this process's plus the slot's (None: inherit)."""
        return {**os.environ, **dict(self.env)} if self.env else None


class TaskRunner:
    """Runs one task's commands; `kill()` stops the current one and all that follow.

    Output (stdout and stderr merged by the OS, so their order is kept) goes to
    `on_line` line by line; the runner's own remarks (which command, exit codes) go to
    `on_note`, so they reach the task log without confusing the output parser.
    """

    def __init__(
        self,
        tools: Tools,
        on_line: LineSink,
        on_note: LineSink,
        control: ProcessControl | None = None,
        cwd: Path | None = None,
    ) -> None:
        """`cwd`: where the commands run (a `manager` job's laid-out files)."""
        self._tools = tools
        self._cwd = cwd
        self._control = control or ProcessControl()
        self._on_line = on_line
        self._on_note = on_note
        self._proc: asyncio.subprocess.Process | None = None
        self._killed = False

    @property
    def killed(self) -> bool:
        return self._killed

    async def run(self, commands: Sequence[Sequence[str]]) -> int:
        """Run the commands in order; stop at the first failure. Returns its exit code
        (negative signal number when killed, 127 when the program cannot start), else 0.
        """
        for argv in commands:
            if self._killed:
                return -signal.SIGTERM
            code = await self._run_one(self._tools.resolve(argv))
            if code != 0:
                return code
        return 0

    def _environment(self) -> dict[str, str] | None:
        """The slot's environment (tools.environment), and $PWD at the task's folder."""
        env = self._tools.environment()
        if self._cwd is None:
            return env
        return {**(env if env is not None else os.environ), "PWD": str(self._cwd)}

    async def _run_one(self, argv: list[str]) -> int:
        self._on_note(f"running: {shlex.join(argv)}")
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self._cwd,
                # Blender takes its working folder from $PWD when it is set, so a
                # relative path would be read from the worker's folder, not `cwd`.
                env=self._environment(),
                **self._control.spawn_options(),
            )
        except OSError as exc:
            self._on_note(f"cannot start {argv[0]}: {exc.strerror or exc}")
            return EXIT_NOT_FOUND
        self._proc = proc
        if self._killed:  # kill() came while the process was starting
            await self._terminate(proc)
        assert proc.stdout is not None
        try:
            await self._pump(proc.stdout)
            code = await proc.wait()
        except asyncio.CancelledError:
            # Whoever cancels the run (the agent shutting down) must not leave it behind.
            self._killed = True
            await asyncio.shield(self._terminate(proc))
            raise
        finally:
            self._proc = None
        name = program_name(argv[0], self._control.windows)
        self._on_note(f"{name} exited with code {code}")
        return code

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        """Split the merged output into lines as it arrives."""
        buf = bytearray()
        while chunk := await stream.read(_CHUNK):
            buf += chunk
            # A trailing \r may be the first half of \r\n: keep it for the next chunk.
            end = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
            *lines, rest = _LINE_END.split(bytes(buf[:end]))
            buf = bytearray(rest) + buf[end:]
            for line in lines:
                self._emit(line)
            while len(buf) > MAX_LINE:
                self._emit(bytes(buf[:MAX_LINE]))
                del buf[:MAX_LINE]
        if buf:
            self._emit(bytes(buf).rstrip(b"\r"))

    def _emit(self, line: bytes) -> None:
        """Hand on one line, in pieces of at most MAX_LINE bytes."""
        for start in range(0, max(len(line), 1), MAX_LINE):
            self._on_line(line[start : start + MAX_LINE].decode("utf-8", "replace"))

    async def kill(self) -> None:
        """Stop the task: SIGTERM the process group, SIGKILL it after KILL_GRACE.

        Returns once the group has been sent SIGKILL (or was already gone); no later
        command of the task will start. Shielded: a caller cancelled meanwhile (the
        process ended first) must not skip the SIGKILL meant for lingering children.
        """
        self._killed = True
        if self._proc is not None:
            await asyncio.shield(self._terminate(self._proc))

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        """Ask, wait KILL_GRACE, then kill the whole tree (worker/process_control.py)."""
        self._control.ask_to_stop(proc)
        try:
            await asyncio.wait_for(proc.wait(), KILL_GRACE)
        except TimeoutError:
            log.warning("process %d ignored the stop request for %.1f s", proc.pid, KILL_GRACE)
        # Also catches children that ignored the request while the leader obeyed it.
        if self._control.windows:  # taskkill is a program: never block the loop on it
            await asyncio.to_thread(self._control.kill_tree, proc)
        else:
            self._control.kill_tree(proc)
