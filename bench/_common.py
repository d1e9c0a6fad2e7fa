"""Shared pieces of the benchmarks: a real manager in a subprocess, a simulated worker
that speaks the real protocol, CPU/RSS meters, percentiles and the report table.

Every benchmark starts the manager exactly as a user would (`python main.py manager
--headless ...`, or with its window under `QT_QPA_PLATFORM=offscreen`) on loopback, on a
free port, with a fresh data dir, and drives it from this process over HTTP. The
manager's event-loop lag is its own figure, read from `GET /health`; it covers the
manager's whole life (at most its last 60 s), so each run starts a fresh manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
FARM_TOKEN = "bench-farm-token-0123456789abcdef"
LONG_POLL = 25  # what the real agent asks for
MB = 1024 * 1024


# -- figures ---------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else math.nan


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned text table (first column left, the rest right)."""
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")

    def line(r: Sequence[str]) -> str:
        pairs = enumerate(zip(r, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(line(r))
    sys.stdout.flush()


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


def machine_info() -> dict[str, Any]:
    model = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": f"{psutil.cpu_count(logical=True)} logical / "
        f"{psutil.cpu_count(logical=False)} physical",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "aiohttp": aiohttp.__version__,
        "os": platform.platform(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def print_machine(title: str) -> None:
    print(f"== {title}")
    for key, value in machine_info().items():
        print(f"   {key:<13} {value}")
    sys.stdout.flush()


class CpuMeter:
    """CPU seconds a process used (all threads) between `start()` and `stop()`, as a
    percentage of one core over the wall time."""

    def __init__(self, pid: int | None = None) -> None:
        self.proc = psutil.Process(pid)
        self._cpu0 = self._wall0 = 0.0
        self.percent = math.nan
        self.seconds = math.nan

    def _cpu(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def start(self) -> CpuMeter:
        self._cpu0, self._wall0 = self._cpu(), time.perf_counter()
        return self

    def stop(self) -> float:
        wall = time.perf_counter() - self._wall0
        self.seconds = self._cpu() - self._cpu0
        self.percent = 100.0 * self.seconds / wall if wall > 0 else math.nan
        return self.percent


class SystemCpuMeter:
    """Busy CPU of the whole machine (all processes), % of one core, between start and
    stop: minus the manager's and the clients' share, it shows what other tenants of a
    shared machine took during the measurement."""

    def __init__(self) -> None:
        self._busy0 = self._wall0 = 0.0
        self.percent = math.nan

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    def start(self) -> SystemCpuMeter:
        self._busy0, self._wall0 = self._busy(), time.perf_counter()
        return self

    def stop(self) -> float:
        wall = time.perf_counter() - self._wall0
        self.percent = 100.0 * (self._busy() - self._busy0) / wall if wall > 0 else math.nan
        return self.percent


def wait_for_quiet(threshold: float = 25.0, sample: float = 2.0, max_wait: float = 60.0) -> float:
    """On a shared machine, wait (up to `max_wait` s) until other processes use less than
    `threshold` % of one core over `sample` s; returns the last figure (printed)."""
    deadline = time.monotonic() + max_wait
    while True:
        meter = SystemCpuMeter().start()
        time.sleep(sample)
        busy = meter.stop()
        if busy < threshold or time.monotonic() > deadline:
            print(f"   machine busy before the run: {busy:.0f} % of one core", flush=True)
            return busy


# -- the manager under test ------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # loopback only
        return json.loads(r.read())


class ManagerProcess:
    """`python main.py manager --headless` (or with its window, offscreen) on loopback."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        window: bool = False,
        extra_args: Sequence[str] = (),
        uvloop: bool = False,
    ) -> None:
        """`uvloop`: the headless manager on uvloop's event loop (a trial: uvloop is no
        dependency of the program; `pip install uvloop` into the venv first)."""
        self.uvloop = uvloop
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="flamenco-bench-"))
        self.window = window
        self.extra_args = list(extra_args)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> ManagerProcess:
        self.port = free_port()
        cmd = [PYTHON, str(ROOT / "main.py"), "manager"]
        if self.uvloop:
            run = "import runpy, sys, uvloop; uvloop.install(); sys.argv = sys.argv[1:];"
            cmd = [
                PYTHON,
                "-c",
                f"{run} runpy.run_path(sys.argv[0], run_name='__main__')",
                *cmd[1:],
            ]
        if not self.window:
            cmd.append("--headless")
        cmd += [
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--data-dir", str(self.data_dir / "data"),
            "--token", FARM_TOKEN,
            *self.extra_args,
        ]  # fmt: skip
        env = dict(os.environ)
        if self.window:
            env.setdefault("QT_QPA_PLATFORM", "offscreen")
        self._log = (self.data_dir / "manager.log").open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"manager exited with {code}:\n{self.log_tail()}")
            try:
                get_json(self.url + "/health", timeout=1.0)
                return self
            except OSError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    msg = f"manager did not answer /health:\n{self.log_tail()}"
                    raise RuntimeError(msg) from exc
                time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = (self.data_dir / "manager.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def rss(self) -> int:
        assert self.ps is not None
        return self.ps.memory_info().rss

    def health(self) -> dict[str, Any]:
        return get_json(self.url + "/health")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> ManagerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


class BareServer:
    """The baseline: a bare aiohttp app answering the worker calls with constant small
    JSON, on the same loop type as the manager (asyncio, or qasync under Qt)."""

    def __init__(self, qt: bool = False) -> None:
        self.qt = qt
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> BareServer:
        self.port = free_port()
        cmd = [PYTHON, str(BENCH / "_bare.py"), "--port", str(self.port)]
        env = dict(os.environ)
        if self.qt:
            cmd.append("--qasync")
            env.setdefault("QT_QPA_PLATFORM", "offscreen")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bare server exited with {self.proc.returncode}")
            try:
                get_json(self.url + "/health", timeout=1.0)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("bare server did not start") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the simulated worker --------------------------------------------------------------


class ProtocolError(RuntimeError):
    pass


@dataclass
class Latencies:
    """Request latencies (seconds) by kind, kept only while `recording`."""

    recording: bool = False
    by_kind: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        if self.recording:
            self.by_kind.setdefault(kind, []).append(seconds)

    def all(self) -> list[float]:
        return [v for vals in self.by_kind.values() for v in vals]


def new_session(connections: int = 4) -> aiohttp.ClientSession:
    """One keep-alive session, as the real agent keeps (it has up to three calls in
    flight: the pull or watch, and the outbox delivery)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, force_close=False),
        timeout=aiohttp.ClientTimeout(total=LONG_POLL + 30),
    )


class SimWorker:
    """A render node reduced to its protocol: what the real agent sends, in its order,
    over its own keep-alive session. Fails loudly on any unexpected status."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, name: str, lat: Latencies | None = None
    ) -> None:
        self.session = session
        self.base = base
        self.name = name
        self.lat = lat or Latencies()
        self.id: int | None = None
        self._auth: dict[str, str] = {}

    async def _call(
        self, kind: str, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else self._auth
        t0 = time.perf_counter()
        async with self.session.request(method, self.base + path, json=body, headers=headers) as r:
            raw = await r.read()
            status, resp_headers = r.status, r.headers
        self.lat.add(kind, time.perf_counter() - t0)
        data = json.loads(raw) if raw and r.content_type == "application/json" else raw
        return status, data, resp_headers

    def _expect(self, what: str, status: int, want: int, data: Any) -> None:
        if status != want:
            raise ProtocolError(f"{self.name}: {what} answered {status}: {data!r}"[:500])

    async def register(self, farm_token: str = FARM_TOKEN) -> int:
        body = {
            "hostname": self.name,
            "system": "Linux bench",
            "update_less_frequent": {"worker_architecture": "x86_64", "worker_num_cpus": 2},
        }
        status, data, _ = await self._call("register", "POST", "/workers", body, farm_token)
        self._expect("POST /workers", status, 200, data)
        worker = data[self.name]
        self.id = int(worker["id"])
        self._auth = {"Authorization": f"Bearer {worker['secret']}"}
        return self.id

    async def pull(self, wait: float = LONG_POLL) -> tuple[int | None, int | None]:
        body = {
            "status": "available",
            "wait": wait,
            "update_frequent": {
                "load_average": {"1min": 0.5, "5min": 0.4, "15min": 0.3},
                "worker_cpu_percent": 3.0,
            },
        }
        status, data, _ = await self._call("pull", "PATCH", f"/workers/{self.id}", body)
        self._expect("PATCH /workers (available)", status, 200, data)
        return data["task_id"], data["lease"]

    async def fetch(self, task_id: int) -> dict[str, Any]:
        status, data, _ = await self._call("fetch", "GET", f"/tasks/{task_id}")
        self._expect("GET /tasks/{id}", status, 200, data)
        return data

    async def patch_task(self, kind: str, task_id: int, body: dict[str, Any]) -> None:
        status, data, _ = await self._call(kind, "PATCH", f"/tasks/{task_id}", body)
        self._expect(f"PATCH /tasks ({kind})", status, 204, data)

    async def start(self, task_id: int, lease: int) -> None:
        await self.patch_task(
            "start", task_id, {"lease": lease, "status": "rendering", "activity": "starting"}
        )

    async def progress(self, task_id: int, lease: int, frame: int) -> None:
        body = {
            "lease": lease,
            "frame_current": frame,
            "progress": 50.0,
            "activity": f"Fra:{frame} | Rendering 64/128 samples",
            "time_cost": 0.01,
        }
        await self.patch_task("progress", task_id, body)

    async def complete(self, task_id: int, lease: int) -> None:
        body = {"lease": lease, "status": "completed", "progress": 100.0, "time_cost": 0.02}
        await self.patch_task("complete", task_id, body)

    async def post_log(self, task_id: int, lease: int, lines: list[str]) -> None:
        status, data, _ = await self._call(
            "log", "POST", f"/tasks/{task_id}/log", {"lease": lease, "lines": lines}
        )
        self._expect("POST /tasks/{id}/log", status, 204, data)

    async def log_size(self, task_id: int) -> int:
        status, data, headers = await self._call("log-read", "GET", f"/tasks/{task_id}/log?tail=0")
        self._expect("GET /tasks/{id}/log", status, 200, data)
        return int(headers["X-Log-Size"])


async def submit_job(
    session: aiohttp.ClientSession,
    base: str,
    tasks: int,
    *,
    name: str = "bench",
    argv: Sequence[str] = ("true",),
    priority: int = 50,
) -> dict[str, Any]:
    """POST /jobs: `tasks` one-frame tasks of the `command` compiler."""
    body = {
        "name": name,
        "type": "command",
        "settings": {"argv": list(argv), "frame_start": 1, "frame_end": tasks},
        "priority": priority,
        "chunk_size": 1,
    }
    headers = {"Authorization": f"Bearer {FARM_TOKEN}"}
    async with session.post(base + "/jobs", json=body, headers=headers) as r:
        data = await r.json()
        if r.status != 201:
            raise ProtocolError(f"POST /jobs answered {r.status}: {data!r}"[:500])
        return data


async def health(
    session: aiohttp.ClientSession, base: str, lag_window: float | None = None
) -> dict[str, Any]:
    """GET /health; its loop lag summed up over the last `lag_window` seconds (the
    load just measured, not the start-up before it), at most 60."""
    params = {} if lag_window is None else {"lag_window": str(min(60.0, max(1.0, lag_window)))}
    async with session.get(base + "/health", params=params) as r:
        return await r.json()


async def wait_calm(
    session: aiohttp.ClientSession,
    base: str,
    *,
    calm_ms: float = 20.0,
    span: float = 2.0,
    timeout: float = 60.0,
) -> float:
    """Wait until the manager's loop lag stayed under `calm_ms` for `span` seconds (a
    window has loaded its tables); returns the seconds waited. A load measured before
    would count the start-up too."""
    t0 = time.perf_counter()
    await asyncio.sleep(span)
    while time.perf_counter() - t0 < timeout:
        lag = (await health(session, base, span))["loop_lag"]
        if lag["max_ms"] < calm_ms:
            break
        await asyncio.sleep(0.5)
    return time.perf_counter() - t0


async def register_all(workers: Sequence[SimWorker], batch: int = 50) -> None:
    for i in range(0, len(workers), batch):
        await asyncio.gather(*(w.register() for w in workers[i : i + batch]))


async def close_all(sessions: Iterable[aiohttp.ClientSession]) -> None:
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


class RssSampler:
    """Samples a process's RSS every `interval` on a background task; keeps the peak."""

    def __init__(self, ps: psutil.Process, interval: float = 0.05) -> None:
        self.ps = ps
        self.interval = interval
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.ps.memory_info().rss)
            await asyncio.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, self.ps.memory_info().rss)
