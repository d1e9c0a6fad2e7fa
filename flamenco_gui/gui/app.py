"""Filling a new window without the cyclic collector's stalls (see load_window)."""

from __future__ import annotations

import gc

from flamenco_gui.gui.main_window import MainWindow


async def load_window(window: MainWindow) -> None:
    """Fill the window's tables with Python's cyclic collector paused, then freeze what
    is alive: a full collection walks every object and took 70-140 ms with 100,000
    tasks loaded (a visible stall, ten times during the load and every few seconds
    after). Frozen objects are still freed by reference counting when they go."""
    gc.disable()
    try:
        await window.load()
    finally:
        gc.freeze()
        gc.enable()
