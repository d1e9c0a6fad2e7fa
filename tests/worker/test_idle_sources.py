"""The idle sources (worker/idle.py) that can run here: the file one, and the X11 one
against a real X server when Xvfb is installed (skipped otherwise, saying so)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from flamenco_gui.worker.idle import FileIdle, IdleGate, idle_source


def test_the_file_source_counts_from_the_last_touch(tmp_path: Path) -> None:
    path = tmp_path / "touch"
    assert FileIdle(path).idle_seconds() == float("inf")  # never touched: idle
    path.write_text("")
    os.utime(path, (time.time() - 90, time.time() - 90))
    idle = FileIdle(path).idle_seconds()
    assert idle is not None and 89 <= idle <= 95
    gate = IdleGate(FileIdle(path), minutes=1)
    assert gate.busy() is None
    os.utime(path)
    assert gate.busy() == "user active"


def test_an_unknown_source_is_named() -> None:
    with pytest.raises(RuntimeError, match="--idle-source 'bogus'"):
        idle_source("bogus")


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="no Xvfb to run a real X server")
def test_the_x11_source_reads_a_real_servers_screensaver_idle_time(tmp_path: Path) -> None:
    display = ":97"
    server = subprocess.Popen(["Xvfb", display, "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    try:
        os.environ["DISPLAY"] = display
        deadline = time.monotonic() + 10
        while True:
            try:
                source = idle_source("x11")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        time.sleep(1.2)
        idle = source.idle_seconds()
        assert idle is not None and idle >= 1.0
    finally:
        os.environ.pop("DISPLAY", None)
        server.terminate()
        server.wait(5)
