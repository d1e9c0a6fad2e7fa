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


def test_a_build_without_an_on_demand_library_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The statistics window's plots and an EXR frame's check load their libraries
    only when first needed: selftest imports them, so a build that left one out (the
    spec excluded numpy once) fails there, not in a wrangler's hands."""
    from flamenco_gui import selftest

    assert selftest.missing_on_demand() == []  # from source, everything is there
    monkeypatch.setattr(selftest, "ON_DEMAND", (*selftest.ON_DEMAND, "no_such_library_here"))
    assert selftest.main(timeout=5) == 1
    assert "not in this build: no_such_library_here" in capsys.readouterr().out
