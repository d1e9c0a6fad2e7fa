"""The benchmarks keep working: each one's quick mode runs against a real manager and
prints its figures (cycle_cost.py: a real farm service and SQLite file, no server).
Speed is not asserted here (see docs/performance.md for that)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"(-?[\d,]+(?:\.\d+)?)"

CASES = {
    "pickup": (
        ["bench/pickup.py", "--quick"],
        [
            "pickup: received max (ms)",
            "pickup: started max (ms)",
            "idle gap: received p50 (ms)",
            "idle gap: received p99 (ms)",
            "event-loop lag p99 (ms, worst part)",
        ],
    ),
    "dispatch": (
        ["bench/dispatch.py", "--quick"],
        [
            "task cycles per second",
            "bare aiohttp cycles per second",
            "ratio manager / bare",
            "request latency p99 (ms)",
            "manager CPU (% of one core)",
            "client process CPU (% of one core)",
            "event-loop lag p99 (ms)",
        ],
    ),
    "dispatch-window": (
        ["bench/dispatch.py", "--quick", "--window"],
        ["task cycles per second", "ratio manager / bare", "event-loop lag p99 (ms)"],
    ),
    "logs": (
        ["bench/logs.py", "--quick"],
        [
            "log lines stored per second",
            "manager RSS peak under load (MB)",
            "event-loop lag p99 (ms)",
        ],
    ),
    "memory": (
        ["bench/memory.py", "--quick"],
        [
            "empty manager, idle RSS (MB)",
            "idle RSS 1 s after (MB)",
            "restarted headless: idle RSS (MB)",
            "headless under load: loop lag p99 (ms)",
        ],
    ),
    "cycle_cost": (
        ["bench/cycle_cost.py", "--quick"],
        [
            "farm CPU per cycle (ms)",
            "of it SQLite: statements and commits (ms, timed pass)",
            "the rest: Python (ms; farm CPU less SQLite)",
        ],
    ),
    "transfer": (
        ["bench/transfer.py", "--quick"],
        [
            "plain loopback copy MB/s",
            "upload MB/s (submitter → manager)",
            "fetch MB/s (manager → worker cache)",
            "loop lag p99 during upload, ms",
            "loop lag p99 during fetch, ms",
        ],
    ),
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", list(CASES))
def test_quick_mode_runs_and_reports(name: str) -> None:
    args, figures = CASES[name]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{out}\n{proc.stderr}"
    # The machine it ran on is part of every report.
    for key in ("cpu", "cores", "python", "date"):
        assert re.search(rf"^\s+{key}\s+\S", out, re.M), f"no {key!r} line in:\n{out}"
    for figure in figures:
        match = re.search(rf"^\s*{re.escape(figure)}\s+{NUMBER}\b", out, re.M)
        assert match, f"{figure!r} missing or not a number in:\n{out}"
    if name == "logs":
        assert re.search(r"^all acknowledged lines read back\s+yes\b", out, re.M), out
