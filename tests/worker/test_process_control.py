"""Stopping a task's process tree on each OS, with the OS injected.

Linux runs for real in tests/unit/test_runner.py (real process groups). Here each
branch's calls are recorded: Windows cannot run on this machine, so its branch is
checked by what it would do (CTRL_BREAK_EVENT to the new process group, then
`taskkill /T /F /PID`), and it has not run on a real Windows machine.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence

from flamenco_gui.worker.process_control import (
    CREATE_NEW_PROCESS_GROUP,
    CTRL_BREAK_EVENT,
    ProcessControl,
    program_name,
)
from flamenco_gui.worker.runner import TaskRunner, Tools


class FakeProc:
    """Stands in for a Windows child process (only its pid and send_signal are used)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[int] = []

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)


class Calls:
    def __init__(self) -> None:
        self.groups: list[tuple[int, int]] = []
        self.commands: list[list[str]] = []

    def signal_group(self, pgid: int, sig: int) -> None:
        self.groups.append((pgid, sig))

    def run(self, argv: Sequence[str]) -> int:
        self.commands.append(list(argv))
        return 0


def test_windows_starts_a_process_group_and_stops_it_with_ctrl_break_then_taskkill() -> None:
    calls = Calls()
    control = ProcessControl(windows=True, signal_group=calls.signal_group, run=calls.run)
    assert control.spawn_options() == {"creationflags": CREATE_NEW_PROCESS_GROUP}
    assert CREATE_NEW_PROCESS_GROUP == 0x200 and CTRL_BREAK_EVENT == 1  # Windows' values
    proc = FakeProc(4242)
    control.ask_to_stop(proc)
    control.kill_tree(proc)
    assert proc.signals == [CTRL_BREAK_EVENT]
    assert calls.commands == [["taskkill", "/T", "/F", "/PID", "4242"]]
    assert calls.groups == []  # no POSIX process groups on Windows


def test_posix_signals_the_group_term_then_kill() -> None:
    calls = Calls()
    control = ProcessControl(windows=False, signal_group=calls.signal_group, run=calls.run)
    assert control.spawn_options() == {"start_new_session": True}
    proc = FakeProc(77)
    control.ask_to_stop(proc)
    control.kill_tree(proc)
    assert calls.groups == [(77, signal.SIGTERM), (77, signal.SIGKILL)]
    assert proc.signals == [] and calls.commands == []


def test_program_names_follow_each_os_path_rules() -> None:
    exe = r"C:\Program Files\Blender Foundation\Blender 4.2\blender.exe"
    assert program_name(exe, windows=True) == "blender.exe"
    assert program_name("/usr/bin/blender", windows=False) == "blender"
    assert program_name(exe, windows=False) == exe  # a backslash is a letter on POSIX


async def test_the_runner_uses_the_injected_control_to_kill() -> None:
    """A real process, killed through a recording control that passes the calls on."""
    calls = Calls()
    real = ProcessControl(windows=False)

    def signal_group(pgid: int, sig: int) -> None:
        calls.signal_group(pgid, sig)
        real.signal_group(pgid, sig)

    control = ProcessControl(windows=False, signal_group=signal_group, run=calls.run)
    lines: list[str] = []
    runner = TaskRunner(Tools(), lines.append, lines.append, control)
    code = [sys.executable, "-u", "-c", "import time; print('up', flush=True); time.sleep(60)"]
    run = asyncio.create_task(runner.run([code]))
    while "up" not in lines:
        await asyncio.sleep(0.02)
    await runner.kill()
    assert await run == -signal.SIGTERM
    assert [sig for _, sig in calls.groups] == [signal.SIGTERM, signal.SIGKILL]
