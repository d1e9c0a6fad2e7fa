"""bench/bulk.py keeps working: its quick mode runs every bulk job action against a real
manager with its window open and workers pulling, and reports each action's figures.
Speed is not asserted here (docs/performance.md has the figures); that the window
showed each result is, since a result never shown is a bug at any speed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"(-?[\d,]+(?:\.\d+)?)"
SHOWN = ("submit", "pause", "resume", "priority", "cancel", "requeue", "delete")


@pytest.mark.timeout(120)
def test_bulk_bench_quick_mode_reports() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "bench/bulk.py", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"exited {proc.returncode}\n{out}\n{proc.stderr}"
    for key in ("cpu", "cores", "python", "date"):
        assert re.search(rf"^\s+{key}\s+\S", out, re.M), f"no {key!r} line in:\n{out}"

    def number(figure: str) -> float:
        match = re.search(rf"^{re.escape(figure)}\s+{NUMBER}", out, re.M)
        assert match, f"{figure!r} missing or not a number in:\n{out}"
        return float(match.group(1).replace(",", ""))

    for action in (*SHOWN, "get"):
        number(f"{action}: wall time (s)")
        number(f"{action}: loop lag max (ms)")
    for action in SHOWN:
        number(f"{action}: window shows it (s)")
        assert re.search(rf"^{action}: window shows it\s+yes\b", out, re.M), out
    assert number("get: answer (bytes)") > 0
    assert number("runs made") == 1
    assert number("worker errors") == 0
    assert number("tasks completed by the workers per run") > 0
    assert re.search(r"^budget: lag max < 100 ms in every action\s+(met|MISSED)\b", out, re.M)
