"""Starting and stopping a task's process tree, per OS.

- Linux and macOS: the command starts in its own session (so its own process group);
  stopping sends SIGTERM to the group (Blender cleans up its temp files), then
  SIGKILL to the group, which also reaches children that ignored SIGTERM.
- Windows: there are no process groups in the POSIX sense and no SIGTERM. The command
  starts with CREATE_NEW_PROCESS_GROUP, so CTRL_BREAK_EVENT reaches it (and only it,
  not the worker's own console); Blender takes it like Ctrl+C. Then `taskkill /T /F`
  ends the whole tree (Windows does not kill children with their parent).

The OS is a parameter: every branch is unit-tested on Linux with the calls recorded
(tests/unit/test_process_control.py). The Windows branch has not run on Windows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Protocol

# Windows' values, so this module imports (and is tested) everywhere.
CREATE_NEW_PROCESS_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x00000200)
CTRL_BREAK_EVENT = getattr(signal, "CTRL_BREAK_EVENT", 1)


class Signallable(Protocol):
    pid: int

    def send_signal(self, sig: int) -> None: ...


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
        os.killpg(pgid, sig)


def _run_quietly(argv: Sequence[str]) -> int:
    return subprocess.run(
        list(argv), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ).returncode


@dataclass(frozen=True, slots=True)
class ProcessControl:
    windows: bool = os.name == "nt"
    signal_group: Callable[[int, int], None] = field(default=_signal_group)
    run: Callable[[Sequence[str]], int] = field(default=_run_quietly)

    def spawn_options(self) -> dict[str, Any]:
        """Keyword arguments for `asyncio.create_subprocess_exec`."""
        if self.windows:
            return {"creationflags": CREATE_NEW_PROCESS_GROUP}
        return {"start_new_session": True}

    def ask_to_stop(self, proc: Signallable) -> None:
        """The polite stop: Blender gets to clean up."""
        if self.windows:
            with contextlib.suppress(OSError, ProcessLookupError):
                proc.send_signal(CTRL_BREAK_EVENT)
        else:
            # The group id is the leader's pid (start_new_session); children stay in
            # the group even after the leader exits, so the group is signalled.
            self.signal_group(proc.pid, signal.SIGTERM)

    def kill_tree(self, proc: Signallable) -> None:
        """The stop that cannot be ignored, for the command and everything it started."""
        if self.windows:
            self.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)])
        else:
            self.signal_group(proc.pid, signal.SIGKILL)


def program_name(path: str, windows: bool = os.name == "nt") -> str:
    """`C:\\Program Files\\Blender\\blender.exe` → `blender.exe` on any OS's path rules."""
    return (PureWindowsPath(path) if windows else PurePosixPath(path)).name
