"""Workers that update themselves from the manager (docs/self_update.md).

From a checkout (always runs): a worker whose manager offers a newer build only says
so ("manager is newer") and keeps working; it never downloads or swaps anything.

With the one-file executable (`make dist` → dist/flamenco): the manager runs from the
executable, a worker runs from a copy of it, and the newer build is simulated by
serving the same executable under a higher version (a second build of a different
version would take another ~70 s and 130 MB; the worker cannot tell the difference,
since it trusts the manager's label and the SHA-256). These tests skip when
dist/flamenco is absent, unless FLAMENCO_REQUIRE_DIST=1 (CI, after `make dist`), where
they fail instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flamenco_gui import __version__
from flamenco_gui.platform_names import arch_name, os_name
from tests.procs import ROOT, TOKEN, Farm, Http, Proc, free_port, wait_until, wait_while_alive

pytestmark = pytest.mark.timeout(240)

DIST = ROOT / "dist" / "flamenco"
NEWER = "9.0.0"


def newer_name(version: str = NEWER) -> str:
    return f"flamenco-{version}-{os_name()}-{arch_name()}"


def versions(http: Http) -> dict:
    return http.get("/worker-versions")


def command_job(http: Http, name: str, argv: list[str]) -> dict:
    settings = {"argv": argv, "frame_start": 1, "frame_end": 1}
    return http.post("/jobs", {"name": name, "type": "command", "settings": settings})


def job_done(http: Http, job: dict) -> bool:
    status = http.get(f"/jobs/{job['id']}")["status"]
    assert status not in ("failed", "canceled"), status
    return status == "completed"


# -- from a checkout ---------------------------------------------------------------------


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Farm]:
    monkeypatch.delenv("FLAMENCO_TOKEN", raising=False)
    farm = Farm(tmp_path)
    try:
        yield farm
    finally:
        farm.stop()
        farm.dump_logs()


def test_a_worker_from_a_checkout_only_says_the_manager_is_newer(farm: Farm) -> None:
    downloads = farm.root / "manager" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / newer_name()).write_bytes(b"not really a build")
    farm.start_manager()
    worker = farm.add_worker("src-node", "--heartbeat", "1", "--update-check", "1")
    wait_while_alive(worker, lambda: "manager is newer" in worker.log(), 30, "the notice")
    assert f"offers flamenco {NEWER}" in worker.log()
    report = next(iter(versions(farm.http).values()))
    assert report["version"] == __version__ and report["frozen"] is False
    assert report["update"] == NEWER
    shown = farm.http.get("/workers")["src-node"]
    assert shown["version"] == __version__ and shown["build"]["frozen"] is False
    # "Update all" asks only workers that can update themselves: not this one.
    assert farm.http.post("/workers/update", {}) == {"requested": []}
    job = command_job(farm.http, "after", [sys.executable, "-c", "print('still here')"])
    wait_until(lambda: job_done(farm.http, job), 30, "the job")
    assert worker.log().count("manager is newer") == 1  # said once per offer, not per check
    assert "downloading" not in worker.log()


# -- with the one-file executable ---------------------------------------------------------


@pytest.fixture
def dist() -> Path:
    if not DIST.exists():
        if os.environ.get("FLAMENCO_REQUIRE_DIST") == "1":
            pytest.fail(f"FLAMENCO_REQUIRE_DIST=1 but {DIST} is missing: run `make dist`")
        pytest.skip(f"{DIST} is absent: `make dist` builds it (≈70 s); CI runs this test")
    return DIST


def spawn_exe(name: str, argv: list[str], log_dir: Path) -> Proc:
    log_path = log_dir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if k != "FLAMENCO_TOKEN"}
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=log_dir,
        )
    return Proc(name, popen, log_path)


class ExeFarm:
    """A manager and a worker, both the one-file executable, on 127.0.0.1."""

    def __init__(self, root: Path, dist: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = Http(self.url)
        self.downloads = root / "manager" / "downloads"
        self.downloads.mkdir(parents=True)
        self.node = root / "node"
        self.node.mkdir()
        self.exe = self.node / "flamenco"
        shutil.copy2(dist, self.exe)
        self.procs: list[Proc] = []
        self.manager = self.spawn(
            "manager",
            [
                str(dist),
                "manager",
                "--headless",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(root / "manager"),
                "--token",
                TOKEN,
                "--no-advertise",
            ],
        )
        wait_while_alive(self.manager, self.http.healthy, 60, "the manager's /health")

    def spawn(self, name: str, argv: list[str]) -> Proc:
        proc = spawn_exe(name, argv, self.root)
        self.procs.append(proc)
        return proc

    def start_worker(self, update_check: str = "1") -> Proc:
        # The farm token only registers it once (as install-service would), then the
        # worker lives on its secret: the re-executed build is started without a token.
        worker = self.spawn(
            "worker",
            [
                str(self.exe),
                "worker",
                "--manager",
                self.url,
                "--token",
                TOKEN,
                "--name",
                "exe-node",
                "--work-dir",
                str(self.node / "work"),
                "--heartbeat",
                "1",
                "--update-check",
                update_check,
                "--accept",
                "command",
            ],
        )
        wait_while_alive(worker, lambda: self.report() is not None, 60, "its version report")
        return worker

    def report(self) -> dict | None:
        return next(iter(versions(self.http).values()), None)

    def offer(self, data: Path, version: str = NEWER, sha256: str | None = None) -> str:
        """Put a build on offer (the manager's downloads folder), optionally with a
        published checksum."""
        name = newer_name(version)
        shutil.copy2(data, self.downloads / f".{name}.partial")
        (self.downloads / f".{name}.partial").replace(self.downloads / name)
        if sha256 is not None:
            (self.downloads / f"{name}.sha256").write_text(f"{sha256}  {name}\n")
        return name

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        for proc in self.procs:
            print(f"----- {proc.name} -----\n{proc.log()[-6000:]}")


@pytest.fixture
def exe_farm(tmp_path: Path, dist: Path) -> Iterator[ExeFarm]:
    farm = ExeFarm(tmp_path, dist)
    try:
        yield farm
    finally:
        farm.stop()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_worker_updates_between_two_tasks_and_comes_back_newer(
    exe_farm: ExeFarm, dist: Path
) -> None:
    worker = exe_farm.start_worker()
    before = exe_farm.report()
    assert before is not None and before["frozen"] is True
    assert before["version"] == __version__ and before["sha256"] == sha256(dist)
    inode = exe_farm.exe.stat().st_ino

    # Task 1 runs for a few seconds; the newer build goes on offer while it runs.
    marker = exe_farm.root / "task1-done"
    job1 = command_job(
        exe_farm.http,
        "one",
        [
            sys.executable,
            "-c",
            f"import time, pathlib; time.sleep(4); pathlib.Path({str(marker)!r}).touch()",
        ],
    )
    wait_until(
        lambda: exe_farm.http.job_tasks(job1["id"])[0]["status"] == "rendering",
        30,
        "task 1 to start",
    )
    exe_farm.offer(dist)
    time.sleep(2.5)  # well past --update-check: a check now would update mid-task
    assert exe_farm.exe.stat().st_ino == inode, "the executable changed during a task"
    assert "downloading" not in worker.log()
    wait_until(lambda: job_done(exe_farm.http, job1), 60, "task 1")
    assert marker.exists()

    # Between the tasks: download, verify, swap, re-exec; the same process (execv).
    wait_while_alive(
        worker,
        lambda: (exe_farm.report() or {}).get("version") == NEWER,
        120,
        "the worker to come back with the new version",
    )
    log = worker.log()
    assert f"manager offers flamenco {NEWER}" in log and "installed flamenco" in log
    assert "restarting as the new build" in log
    assert exe_farm.exe.stat().st_ino != inode  # swapped by rename, not rewritten
    assert sha256(exe_farm.exe) == sha256(dist)
    assert os.access(exe_farm.exe, os.X_OK)
    assert not list(exe_farm.node.glob(".flamenco.update-*"))  # no leftovers

    # The updated worker does the next task, under its old identity.
    job2 = command_job(exe_farm.http, "two", [sys.executable, "-c", "print('task 2')"])
    wait_while_alive(worker, lambda: job_done(exe_farm.http, job2), 60, "task 2")
    workers = exe_farm.http.get("/workers")
    assert list(workers) == ["exe-node"]
    assert workers["exe-node"]["id"] == int(next(iter(versions(exe_farm.http))))
    # ... and does not update again to the same offer.
    time.sleep(2.5)
    assert worker.log().count("installed flamenco") == 1


def test_a_download_with_a_wrong_hash_is_refused(exe_farm: ExeFarm, dist: Path) -> None:
    worker = exe_farm.start_worker()
    original = sha256(exe_farm.exe)
    inode = exe_farm.exe.stat().st_ino
    exe_farm.offer(dist, sha256="0" * 64)
    wait_while_alive(worker, lambda: "refused" in worker.log(), 120, "the refusal")
    assert "its SHA-256 is" in worker.log() and f"keeping flamenco {__version__}" in worker.log()
    assert exe_farm.exe.stat().st_ino == inode and sha256(exe_farm.exe) == original
    assert not list(exe_farm.node.glob(".flamenco.update-*"))
    job = command_job(exe_farm.http, "after", [sys.executable, "-c", "print('old build')"])
    wait_while_alive(worker, lambda: job_done(exe_farm.http, job), 60, "the job")
    assert exe_farm.report()["version"] == __version__
    time.sleep(2.5)
    assert worker.log().count("downloading") == 1  # a refused offer is not fetched again


def test_update_all_updates_a_worker_before_its_periodic_check(
    exe_farm: ExeFarm, dist: Path
) -> None:
    worker = exe_farm.start_worker(update_check="3600")  # reports at start, then in an hour
    inode = exe_farm.exe.stat().st_ino
    exe_farm.offer(dist)
    time.sleep(2.5)
    assert exe_farm.exe.stat().st_ino == inode and "downloading" not in worker.log()
    worker_id = int(next(iter(versions(exe_farm.http))))
    assert exe_farm.http.post("/workers/update", {}) == {"requested": [worker_id]}
    wait_while_alive(
        worker,
        lambda: (exe_farm.report() or {}).get("version") == NEWER,
        120,
        "the worker to come back with the new version after update all",
    )
    assert exe_farm.http.get("/workers")["exe-node"]["version"] == NEWER
    assert exe_farm.exe.stat().st_ino != inode
