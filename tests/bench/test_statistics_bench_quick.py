"""bench/statistics_view.py keeps working: a small job's frames reported through the
farm, the statistics window's job tab loaded, repainted and panned, every figure
reported. Speed is not asserted here (docs/performance.md has the figures)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = [
    "job tab load, read + drawn (s)",
    "lag while it loads max (ms)",
    "full repaint of the window (ms)",
    "pan/zoom step p50 (ms)",
    "pan/zoom step max (ms)",
    "lag while panning max (ms)",
]


@pytest.mark.timeout(180)
def test_statistics_bench_reports() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "bench/statistics_view.py", "--frames", "400"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    out = proc.stdout
    assert proc.returncode == 0, f"exited {proc.returncode}\n{out}\n{proc.stderr}"
    assert re.search(r"^frames in the job tab\s+400$", out, re.M), out
    for figure in FIGURES:
        assert re.search(rf"^{re.escape(figure)}\s+\d", out, re.M), f"{figure!r} in:\n{out}"
