"""The task runner with real subprocesses (Python standing in for Blender)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time

import psutil
import pytest

from flamenco_gui.worker.runner import EXIT_NOT_FOUND, MAX_LINE, TaskRunner, Tools
from tests.procs import process_gone

PY = sys.executable


class Output:
    """Collects what the runner hands out."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.notes: list[str] = []

    def runner(self, tools: Tools | None = None) -> TaskRunner:
        return TaskRunner(tools or Tools(), self.lines.append, self.notes.append)


def py(code: str) -> list[str]:
    return [PY, "-u", "-c", textwrap.dedent(code)]


async def gone_soon(*pids: int, timeout: float = 0.5) -> bool:
    """SIGKILL is delivered asynchronously: allow the kernel a moment to finish the job."""
    deadline = time.monotonic() + timeout
    while not all(map(process_gone, pids)):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def wait_for_line(out: Output, prefix: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in out.lines:
            if line.startswith(prefix):
                return line
        await asyncio.sleep(0.02)
    raise AssertionError(f"no line starting with {prefix!r} in {out.lines}")


async def test_stdout_and_stderr_merge_in_order() -> None:
    out = Output()
    code = """
        import sys
        for i in range(3):
            print(f"out {i}")
            print(f"err {i}", file=sys.stderr)
    """
    assert await out.runner().run([py(code)]) == 0
    assert out.lines == ["out 0", "err 0", "out 1", "err 1", "out 2", "err 2"]
    assert out.notes[0].startswith("running: ")
    assert out.notes[-1].endswith("exited with code 0")


async def test_carriage_returns_and_unfinished_last_line() -> None:
    out = Output()
    code = r"""
        import sys, time
        sys.stdout.write("frame 1\rframe 2\r")
        sys.stdout.flush()
        time.sleep(0.1)  # \r\n split across two reads is still one line end
        sys.stdout.write("\nwindows\r\nno newline")
    """
    assert await out.runner().run([py(code)]) == 0
    assert out.lines == ["frame 1", "frame 2", "windows", "no newline"]


async def test_a_runaway_line_is_cut() -> None:
    out = Output()
    assert await out.runner().run([py(f"print('x' * {MAX_LINE * 2 + 10})")]) == 0
    assert [len(line) for line in out.lines] == [MAX_LINE, MAX_LINE, 10]


async def test_bare_blender_and_ffmpeg_are_this_nodes_paths() -> None:
    out = Output()
    tools = Tools(blender=PY, ffmpeg=PY)
    commands = [["blender", "-c", "print('from blender')"], ["ffmpeg", "-c", "print('ffmpeg')"]]
    assert await out.runner(tools).run(commands) == 0
    assert out.lines == ["from blender", "ffmpeg"]
    assert Tools().resolve(["python3", "x"]) == ["python3", "x"]


async def test_stops_at_the_first_failing_command() -> None:
    out = Output()
    commands = [py("print('one')"), py("import sys; sys.exit(3)"), py("print('never')")]
    assert await out.runner().run(commands) == 3
    assert out.lines == ["one"]
    assert out.notes[-1].endswith("exited with code 3")


async def test_a_missing_program_fails_clearly() -> None:
    out = Output()
    assert await out.runner().run([["/nonexistent/blender", "-b"]]) == EXIT_NOT_FOUND
    assert "cannot start /nonexistent/blender" in out.notes[-1]


SPAWNS_A_CHILD = """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(f"child {child.pid}", flush=True)
    time.sleep(60)
"""


async def test_kill_kills_the_whole_process_group() -> None:
    out = Output()
    runner = out.runner()
    run = asyncio.create_task(runner.run([py(SPAWNS_A_CHILD), py("print('never')")]))
    child = int((await wait_for_line(out, "child ")).split()[1])
    leader = psutil.Process(child).ppid()
    started = time.monotonic()
    await runner.kill()
    code = await asyncio.wait_for(run, 5)
    assert time.monotonic() - started < 2
    assert code < 0 and runner.killed
    assert await gone_soon(leader, child)
    assert "never" not in out.lines


async def test_children_ignoring_sigterm_get_sigkill() -> None:
    out = Output()
    runner = out.runner()
    stubborn = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """
    run = asyncio.create_task(runner.run([py(stubborn)]))
    await wait_for_line(out, "ready")
    started = time.monotonic()
    await runner.kill()
    assert await asyncio.wait_for(run, 5) == -9
    assert 0.9 < time.monotonic() - started < 2


async def test_cancelling_the_run_kills_the_process() -> None:
    out = Output()
    run = asyncio.create_task(out.runner().run([py(SPAWNS_A_CHILD)]))
    child = int((await wait_for_line(out, "child ")).split()[1])
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert await gone_soon(child)
