"""`FLAMENCO_STARTUP_PROBE=1`: say when the manager's window is up, then close it.

Used to measure the executable's time to a usable window (docs/distribution.md):
whoever starts the program times it until the line `flamenco: window shown` appears.
A timer polls for the visible main window instead of overriding a Qt virtual
(`eventFilter`), which keeps this off the code paths DESIGN.md warns about.
"""

from __future__ import annotations

import os
import sys
import time

PROBE_ENV = "FLAMENCO_STARTUP_PROBE"
POLL_MS = 5


def wanted() -> bool:
    return os.environ.get(PROBE_ENV, "") == "1"


def install() -> None:
    """Create the QApplication early (run_gui reuses it) and watch for the window."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    started = time.perf_counter()
    timer = QTimer(app)
    timer.setInterval(POLL_MS)

    def check() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMainWindow) and widget.isVisible():
                timer.stop()
                elapsed = time.perf_counter() - started
                print(f"flamenco: window shown ({elapsed:.3f} s after Qt started)", flush=True)
                # One more loop turn, so the window's first load has run, then close.
                QTimer.singleShot(0, widget.close)
                return

    timer.timeout.connect(check)
    timer.start()
