"""bench/gui_window.py keeps working: its quick mode fills the window's tables, drives
task updates through FarmService and reports its figures. Speed is not asserted here
(docs/performance.md has the figures)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"(-?[\d,]+(?:\.\d+)?)"
FIGURES = [
    "tasks in the table",
    "workers in the table",
    "window load, paged (s)",
    "task updates per second",
    "event-loop lag p50 (ms)",
    "event-loop lag p99 (ms)",
    "event-loop lag max (ms)",
    "process RSS at the end (MB)",
]


@pytest.mark.timeout(180)
def test_gui_bench_quick_mode_reports() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "bench/gui_window.py", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"exited {proc.returncode}\n{out}\n{proc.stderr}"
    for key in ("cpu", "cores", "python", "date"):
        assert re.search(rf"^\s+{key}\s+\S", out, re.M), f"no {key!r} line in:\n{out}"
    values = {}
    for figure in FIGURES:
        match = re.search(rf"^\s*{re.escape(figure)}\s+{NUMBER}", out, re.M)
        assert match, f"{figure!r} missing or not a number in:\n{out}"
        values[figure] = float(match.group(1).replace(",", ""))
    # The quick farm really was in the tables, and updates really were applied.
    assert values["tasks in the table"] == 10_000
    assert values["workers in the table"] == 100
    assert values["task updates per second"] > 0
