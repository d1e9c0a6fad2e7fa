"""Shared test set-up: make the checkout importable (`flamenco_gui`, `tests.*`).

`.venv/bin/pytest` does not put the checkout's root on sys.path (only `python -m pytest`
does), so the package under test and the helpers in `tests/` are found from here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Qt without a display aborts the process: tests always run offscreen unless told.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
