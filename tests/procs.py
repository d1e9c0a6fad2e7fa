"""Real farm processes for end-to-end tests: a headless manager, worker agents, HTTP.

Everything runs as the user would run it (`python main.py manager --headless …`,
`python main.py worker …`), each process writing to its own log file, which
`Farm.dump_logs` prints so a failing test shows what every process said.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"
TOKEN = "e2e-farm-token"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_gone(pid: int) -> bool:
    """Dead, or a zombie nobody reaped yet (PID 1 in a container may not reap)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Http:
    """A tiny blocking client: tests poll, so plain urllib keeps them simple."""

    def __init__(self, base: str, token: str | None = TOKEN) -> None:
        self.base = base
        self.token = token

    def request(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Reply(response.status, response.read(), dict(response.headers))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(), dict(error.headers))

    def get(self, path: str) -> Any:
        reply = self.request("GET", path)
        assert reply.status == 200, f"GET {path}: {reply.status} {reply.text}"
        return reply.json()

    def job_tasks(self, job_id: int) -> list[dict[str, Any]]:
        """A (small) job's tasks in id order: `GET /jobs/{id}` has only their counts."""
        return self.get(f"/tasks?job_id={job_id}&limit=1000")["tasks"]

    def post(self, path: str, body: Any) -> Any:
        reply = self.request("POST", path, body)
        assert 200 <= reply.status < 300, f"POST {path}: {reply.status} {reply.text}"
        return reply.json() if reply.body else None

    def patch(self, path: str, body: Any) -> None:
        reply = self.request("PATCH", path, body)
        assert 200 <= reply.status < 300, f"PATCH {path}: {reply.status} {reply.text}"

    def text(self, path: str) -> str:
        reply = self.request("GET", path)
        assert reply.status == 200, f"GET {path}: {reply.status} {reply.text}"
        return reply.text

    def healthy(self) -> bool:
        try:
            return self.request("GET", "/health", timeout=1).status == 200
        except OSError:
            return False


@dataclass
class Proc:
    """A child process writing to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10) -> int:
        """Signal the process and wait for it; SIGKILL if it outstays `timeout`."""
        if self.alive():
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()


def spawn(name: str, args: list[str], log_dir: Path) -> Proc:
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            [sys.executable, str(MAIN), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return Proc(name, popen, log_path)


def wait_while_alive(proc: Proc, check: Callable[[], T], timeout: float, what: str) -> T:
    """`wait_until`, failing at once (with the process's log) if `proc` dies meanwhile."""

    def probe() -> T:
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()}")
        return check()

    return wait_until(probe, timeout, what)


@dataclass
class Farm:
    """A headless manager on a fixed free port plus its workers, all under `root`.

    The port stays the same across `restart_manager`, as it would on a real network,
    so the workers can find the manager again without being told.
    """

    root: Path
    port: int = field(default_factory=free_port)
    manager: Proc | None = None
    workers: dict[str, Proc] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def http(self) -> Http:
        return Http(self.url)

    def start_manager(self, *extra: str) -> Proc:
        args = ["manager", "--headless", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--data-dir", str(self.root / "manager"), "--token", TOKEN, *extra]
        self.manager = spawn("manager", args, self.root)
        wait_while_alive(self.manager, self.http.healthy, 20, "the manager's /health")
        return self.manager

    def kill_manager(self) -> None:
        """SIGKILL: no goodbye, no flush; what the manager acknowledged must survive."""
        assert self.manager is not None
        self.manager.stop(signal.SIGKILL)

    def add_worker(self, name: str, *extra: str) -> Proc:
        """A worker that also accepts `command` tasks (most e2e jobs are `command` jobs),
        unless `extra` says what it accepts. Waits until it is listed (by its label)."""
        args = ["worker", "--manager", self.url, "--token", TOKEN, "--name", name]
        accept = [] if any(a.startswith("--accept") for a in extra) else ["--accept", "command"]
        args += ["--work-dir", str(self.root / name), *accept, *extra]
        started = time.time() - 1
        self.workers[name] = worker = spawn(name, args, self.root)

        def registered() -> bool:
            return any(
                w["hostname"] == name and (w.get("last_seen") or 0) >= started
                for w in self.http.get("/workers").values()
            )

        wait_while_alive(worker, registered, 20, f"{name} to register")
        return worker

    def labels(self) -> set[str]:
        """`GET /workers`' keys: hostnames, `name (2)` for a second worker of one name."""
        return set(self.http.get("/workers"))

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        if self.manager is not None:
            self.manager.stop()

    def dump_logs(self) -> None:
        for proc in [*self.workers.values(), *([self.manager] if self.manager else [])]:
            print(f"----- {proc.name} (pid {proc.pid}) -----\n{proc.log()}")


def python_job(
    http: Http, script: str, frames: int = 1, *, args: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    """A `command` job running `python -c script *args` for each of its frames, a task
    per frame (`{frame}` in `args` is the frame's number)."""
    argv = [sys.executable, "-c", script, *args]
    settings = {"argv": argv, "frame_start": 1, "frame_end": frames}
    body = {"name": "py", "type": "command", "settings": settings, "chunk_size": 1, **extra}
    return http.post("/jobs", body)
