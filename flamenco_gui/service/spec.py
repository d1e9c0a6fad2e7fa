"""What a service is, independent of the OS that will run it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Runs one command (an argv list, never a shell string) and returns its exit status.
# Tests pass a recorder instead, so nothing is enabled on the machine running them.
Run = Callable[[Sequence[str]], int]
# Runs one command and returns its exit status and standard output (status queries).
Query = Callable[[Sequence[str]], tuple[int, str]]

# A worker that exits 2 was given a bad command line or a work dir in use: restarting
# it cannot help, so no service manager should.
EXIT_NO_RESTART = 2


def run_command(argv: Sequence[str]) -> int:
    return subprocess.run(list(argv), check=False).returncode


def query_command(argv: Sequence[str]) -> tuple[int, str]:
    done = subprocess.run(list(argv), check=False, capture_output=True, text=True)
    return done.returncode, done.stdout


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """`name` is the unit/label/task name (`flamenco-worker`); `argv` the full command
    line, holding no credential; `work_dir` where it runs and keeps its files."""

    name: str
    description: str
    argv: list[str]
    work_dir: Path
    run_as: str | None = None  # system-wide services only: the account it runs under


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    installed: bool
    running: bool | None  # None: the service manager could not be asked
    path: Path
    detail: str = ""
