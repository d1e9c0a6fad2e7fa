"""The jobs table's Left reads the manager's ETA (farm/eta.py), counting down between
events, and says why there is none (Elapsed is the job's run: gui/columns.py)."""

from __future__ import annotations

import time

from flamenco_gui.gui import columns as fmt


def test_left_counts_down_from_the_figures() -> None:
    row = {"status": "rendering", "elapsed": 10.0, "remaining": 30.0, "eta_at": time.time() - 5}
    assert 24.5 < fmt.job_left(row) < 25.5
    assert fmt.job_left_text(row) in ("0:24", "0:25")


def test_no_estimate_says_why() -> None:
    queued = {"status": "queued", "elapsed": None, "remaining": None, "eta_note": "waiting"}
    assert fmt.job_left(queued) is None and fmt.job_left_text(queued) == "waiting"
    done = {"status": "completed", "elapsed": 42.0, "remaining": 0.0, "eta_at": time.time() - 99}
    assert fmt.job_left_text(done) == "0:00"
