"""How long the machine's keyboard and mouse have been idle, for `--when-idle`: a
workstation renders only while nobody uses it.

One small interface, `IdleSource.idle_seconds()` (None: unknown right now), with the
platform's own APIs behind it:

- X11: the screensaver extension's idle time (python-xlib), on the `$DISPLAY`;
- logind: the session's `IdleHint` / `IdleSinceHint` over the system D-Bus (jeepney),
  for Wayland sessions and consoles;
- Windows: `GetLastInputInfo`;
- macOS: `HIDIdleTime` of `IOHIDSystem` (`ioreg`);
- `file:PATH`: the seconds since PATH was last modified (touch it to say "someone is
  here"), for a machine whose activity another program knows of, and for the tests
  (no user keyboard there).

`CpuRule` is the optional second condition: other processes (not this worker's task)
use more than N % of the CPU.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import psutil

log = logging.getLogger(__name__)


class IdleSource(Protocol):
    name: str

    def idle_seconds(self) -> float | None: ...


class FileIdle:
    """Idle since the file was last touched (a missing file: idle for ever)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"

    def idle_seconds(self) -> float | None:
        try:
            return max(0.0, time.time() - self.path.stat().st_mtime)
        except FileNotFoundError:
            return float("inf")


class X11Idle:
    name = "x11"

    def __init__(self) -> None:
        from Xlib import display

        self._display = display.Display()
        if not self._display.has_extension("MIT-SCREEN-SAVER"):
            raise RuntimeError("the X server has no screensaver extension")
        self._root = self._display.screen().root

    def idle_seconds(self) -> float | None:
        info = self._root.screensaver_query_info()
        return float(info.idle) / 1000.0


class LogindIdle:
    """The first graphical (else any) session's idle hint, from systemd-logind."""

    name = "logind"

    def __init__(self) -> None:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        self._new = new_method_call
        self._addr = DBusAddress
        self._conn = open_dbus_connection(bus="SYSTEM")
        self._session = self._pick_session()

    def _call(self, path: str, interface: str, method: str, sig: str = "", *args: object) -> Any:
        addr = self._addr(path, bus_name="org.freedesktop.login1", interface=interface)
        reply = self._conn.send_and_get_reply(self._new(addr, method, sig, args))
        return reply.body

    def _pick_session(self) -> str:
        sessions = self._call(
            "/org/freedesktop/login1", "org.freedesktop.login1.Manager", "ListSessions"
        )[0]
        if not sessions:
            raise RuntimeError("logind lists no session")
        return str(sessions[0][4])

    def idle_seconds(self) -> float | None:
        props = "org.freedesktop.DBus.Properties"
        session = "org.freedesktop.login1.Session"
        hint = self._call(self._session, props, "Get", "ss", session, "IdleHint")[0][1]
        if not hint:
            return 0.0
        since = self._call(self._session, props, "Get", "ss", session, "IdleSinceHint")[0][1]
        return max(0.0, time.time() - int(since) / 1e6)


class WindowsIdle:  # pragma: no cover - Windows only
    name = "windows"

    def idle_seconds(self) -> float | None:
        class LastInput(ctypes.Structure):
            _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint)]

        info = LastInput()
        info.cbSize = ctypes.sizeof(info)
        windll = ctypes.windll  # type: ignore[attr-defined]
        if not windll.user32.GetLastInputInfo(ctypes.byref(info)):
            return None
        return ((windll.kernel32.GetTickCount() - info.dwTime) & 0xFFFFFFFF) / 1000.0


class MacIdle:  # pragma: no cover - macOS only
    name = "macos"

    def idle_seconds(self) -> float | None:
        out = subprocess.run(
            ["ioreg", "-c", "IOHIDSystem", "-d", "4"], capture_output=True, text=True, check=False
        ).stdout
        match = re.search(r'"HIDIdleTime" = (\d+)', out)
        return int(match.group(1)) / 1e9 if match else None


def idle_source(spec: str) -> IdleSource:
    """`auto`, `x11`, `logind`, `windows`, `macos` or `file:PATH`; RuntimeError (naming
    what failed) when none works here."""
    if spec.startswith("file:"):
        return FileIdle(Path(spec[5:]))
    makers: dict[str, Callable[[], IdleSource]] = {
        "x11": X11Idle,
        "logind": LogindIdle,
        "windows": WindowsIdle,
        "macos": MacIdle,
    }
    if spec != "auto":
        if spec not in makers:
            known = ", ".join(makers)
            raise RuntimeError(f"--idle-source {spec!r}: one of auto, {known}, file:PATH")
        return makers[spec]()
    order = {"win32": ["windows"], "darwin": ["macos"]}.get(sys.platform, ["x11", "logind"])
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        order = ["logind"]
    errors = []
    for name in order:
        try:
            return makers[name]()
        except Exception as exc:
            errors.append(f"{name}: {exc}")
    raise RuntimeError("no idle time source works here (" + "; ".join(errors) + ")")


class CpuRule:
    """Busy when processes other than this worker and its task use more than `limit` %
    of the machine's CPU (sampled between calls)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._me = psutil.Process()
        psutil.cpu_percent(None)

    def others_percent(self) -> float:
        total = psutil.cpu_percent(None)
        ours = 0.0
        for proc in [self._me, *self._me.children(recursive=True)]:
            try:
                ours += proc.cpu_percent(None)
            except psutil.Error:
                continue
        return max(0.0, total - ours / (psutil.cpu_count() or 1))


class IdleGate:
    """Whether this workstation may render now, and why not."""

    def __init__(self, source: IdleSource, minutes: float, cpu: CpuRule | None = None) -> None:
        self.source = source
        self.needed = minutes * 60.0
        self.cpu = cpu

    def busy(self) -> str | None:
        """None: nobody uses the machine; else the reason it takes no work."""
        idle = self.source.idle_seconds()
        if idle is None or idle < self.needed:
            return "user active"
        if self.cpu is not None:
            others = self.cpu.others_percent()
            if others > self.cpu.limit:
                return f"machine busy (other processes use {others:.0f} % CPU)"
        return None
