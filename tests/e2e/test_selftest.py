"""`flamenco selftest` from source: a manager, a worker process and a `command` job on
loopback, exit 0 only when the job completed. CI runs the same command in the built
executable (`dist/flamenco selftest`), where the worker is the executable itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flamenco_gui import __version__
from tests.procs import MAIN, ROOT

pytestmark = pytest.mark.timeout(120)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"flamenco {__version__}"


def test_selftest_runs_a_job_end_to_end() -> None:
    done = run("selftest")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "worker registered" in out
    assert f"task logs show 'flamenco {__version__}'" in out
    assert out.rstrip().endswith("PASSED") or "PASSED" in done.stdout, out


def test_selftest_fails_when_the_job_cannot_finish() -> None:
    done = run("selftest", "--timeout", "0.5")
    assert done.returncode == 1
    assert "FAILED" in done.stdout
