"""`flamenco selftest`: a whole farm on loopback, to prove an install or a build works.

A headless manager runs in this process (its HTTP server on 127.0.0.1, a temporary
data dir) and a worker runs as a separate process, exactly as on a render node. A
two-task `command` job that runs this very program with `--version` goes through the
real API, the pull, the runner and the log upload; exit 0 only if it completed and the
task logs show the program's answer. Inside the PyInstaller executable the worker and
the job's command are `sys.executable` itself, so the test also proves that the one
file can start its own workers.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from flamenco_gui import __version__
from flamenco_gui.farm.service import FarmConfig
from flamenco_gui.manager import Manager

MAIN = Path(__file__).resolve().parent.parent / "main.py"
TOKEN = "selftest-token"
FRAMES = 2
# Loaded only when first needed (the statistics window's plots, an EXR frame's check):
# a build that left one out would fail there, long after it started.
ON_DEMAND = ("numpy", "pyqtgraph", "OpenImageIO")


def missing_on_demand() -> list[str]:
    missing = []
    for name in ON_DEMAND:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"{name} ({exc})")
    return missing


def program() -> list[str]:
    """How to start this program again: the executable itself when frozen."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, str(MAIN)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _say(started: float, text: str) -> None:
    print(f"selftest [{time.monotonic() - started:5.1f} s] {text}", flush=True)


class _Api:
    """The farm token on one keep-alive session, as a pipeline script would call."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session = session
        self._base = base

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self._session.request(
            method,
            self._base + path,
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            if response.content_type == "application/json":
                return await response.json()
            return await response.text()


async def _until(check: Any, timeout: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(interval)
    return None


async def _run(root: Path, timeout: float, started: float) -> bool:
    manager = Manager(
        root / "manager", "127.0.0.1", _free_port(), TOKEN, config=FarmConfig(), advertise=False
    )
    await manager.start()
    _say(started, f"manager {__version__} serving {manager.url}")
    log_path = root / "worker.log"
    worker: subprocess.Popen[bytes] | None = None
    ok = False
    try:
        with log_path.open("wb") as log_file:
            argv = [*program(), "worker", "--manager", manager.url, "--name", "selftest-worker"]
            argv += ["--work-dir", str(root / "worker"), "--heartbeat", "1"]
            argv += ["--accept", "command"]  # the check job runs this program itself
            worker = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # The token goes by environment, not on a command line others can read.
                env={**os.environ, "FLAMENCO_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"},
            )
        ok = await _drive(manager, worker, timeout, started)
        return ok
    finally:
        if worker is not None:
            # Off the loop: the manager on this loop must answer the worker's goodbye.
            await asyncio.to_thread(_stop, worker)
            if worker.returncode not in (0, -signal.SIGTERM):
                _say(started, f"worker exited with {worker.returncode}")
        await manager.stop()
        if not ok:
            print(f"----- worker log ({log_path}) -----", flush=True)
            print(log_path.read_text(errors="replace")[-4000:], flush=True)


async def _drive(
    manager: Manager, worker: subprocess.Popen[bytes], timeout: float, started: float
) -> bool:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        api = _Api(session, manager.url)

        async def registered() -> bool:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            return "selftest-worker" in await api.call("GET", "/workers")

        if not await _until(registered, deadline - time.monotonic()):
            _say(started, "FAILED: the worker did not register")
            return False
        _say(started, "worker registered")
        settings = {"argv": [*program(), "--version"], "frame_start": 1, "frame_end": FRAMES}
        job = await api.call(
            "POST",
            "/jobs",
            {"name": "selftest", "type": "command", "settings": settings, "chunk_size": 1},
        )
        _say(started, f"job {job['id']} submitted: {FRAMES} tasks running {settings['argv']}")

        async def finished() -> dict[str, Any] | None:
            current = await api.call("GET", f"/jobs/{job['id']}")
            return current if current["status"] in ("completed", "failed", "canceled") else None

        done = await _until(finished, deadline - time.monotonic())
        if done is None or done["status"] != "completed":
            state = done["status"] if done else "still running"
            _say(started, f"FAILED: job {job['id']} {state} after {timeout:g} s")
            return False
        page = await api.call("GET", f"/tasks?job_id={job['id']}")
        for task in page["tasks"]:
            log = await api.call("GET", f"/tasks/{task['id']}/log")
            if f"flamenco {__version__}" not in log:
                _say(started, f"FAILED: task {task['id']}'s log lacks the version:\n{log}")
                return False
        _say(started, f"job {job['id']} completed; its task logs show 'flamenco {__version__}'")
        return True


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def main(timeout: float = 60.0) -> int:
    """Exit status 0 when the job completed, 1 otherwise (the worker's log is shown)."""
    started = time.monotonic()
    _say(started, f"flamenco {__version__} on Python {sys.version.split()[0]}, {sys.platform}")
    if missing := missing_on_demand():
        _say(started, f"FAILED: not in this build: {', '.join(missing)}")
        return 1
    with tempfile.TemporaryDirectory(prefix="flamenco-selftest-") as tmp:
        try:
            ok = asyncio.run(_run(Path(tmp), timeout, started))
        except (OSError, RuntimeError, aiohttp.ClientError) as exc:
            _say(started, f"FAILED: {exc}")
            ok = False
    _say(started, "PASSED" if ok else "FAILED")
    return 0 if ok else 1
