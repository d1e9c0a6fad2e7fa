"""“Render on this computer too”: a worker process on the wrangler's own machine.

It is an ordinary `main.py worker` (the same agent as on every render node), started
with QProcess so its exit is a Qt signal and nothing polls. The token goes in the
environment (FLAMENCO_TOKEN, which the worker reads), not on the command line, where
every user of the machine could read it with `ps`. Stopping sends SIGTERM: the agent
kills its render, tells the manager it is going offline and exits; it is awaited
without blocking the loop, because the manager answering that goodbye runs on the same
loop. A worker that outstays the grace period is killed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from flamenco_gui.config import manager_url

STOP_GRACE = 10.0
MAIN = Path(__file__).resolve().parents[2] / "main.py"


def local_name() -> str:
    return f"{socket.gethostname()}-local"


def local_url(host: str, port: int) -> str:
    """Loopback when the manager listens there or everywhere: it always works locally."""
    if host in ("0.0.0.0", "", "::", "127.0.0.1", "localhost"):
        return f"http://127.0.0.1:{port}"
    return manager_url(host, port)


def worker_argv(url: str, name: str, work_dir: Path) -> list[str]:
    """The program and arguments (a packaged manager is its own worker program)."""
    program = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, str(MAIN)]
    return [*program, "worker", "--manager", url, "--name", name, "--work-dir", str(work_dir)]


class LocalWorker(QObject):
    running_changed = Signal(bool)
    message = Signal(str)

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.work_dir = data_dir / "local-worker"
        self.log_path = self.work_dir / "worker.log"
        self.name = local_name()
        self._proc: QProcess | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return int(self._proc.processId()) or None if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning

    def start(self, url: str, token: str) -> None:
        if self.is_running():
            return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        argv = worker_argv(url, self.name, self.work_dir)
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("FLAMENCO_TOKEN", token)
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        proc.setStandardOutputFile(str(self.log_path), QProcess.OpenModeFlag.Append)
        proc.setWorkingDirectory(str(MAIN.parent if MAIN.exists() else os.getcwd()))
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        proc.setProgram(argv[0])
        proc.setArguments(argv[1:])
        self._proc = proc
        self._stopping = False
        proc.start()
        self.running_changed.emit(True)
        self.message.emit(f"Rendering on this computer too ({self.name}); log: {self.log_path}")

    async def stop(self, grace: float = STOP_GRACE) -> int | None:
        """Stop the worker and wait for it; its exit code (None if it was not running)."""
        proc = self._proc
        if proc is None or proc.state() == QProcess.ProcessState.NotRunning:
            return None
        self._stopping = True
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def finished(code: int, _status: QProcess.ExitStatus) -> None:
            if not done.done():
                done.set_result(code)

        proc.finished.connect(finished)
        proc.terminate()
        try:
            return await asyncio.wait_for(asyncio.shield(done), grace)
        except TimeoutError:
            proc.kill()
            return await done

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self.running_changed.emit(False)
        if self._stopping:
            self.message.emit("Stopped rendering on this computer.")
        elif code == 2:
            self.message.emit(f"The local worker could not start: see {self.log_path}")
        else:
            self.message.emit(f"The local worker exited (code {code}): see {self.log_path}")
        self._stopping = False

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.running_changed.emit(False)
            self.message.emit("The local worker could not be started.")
