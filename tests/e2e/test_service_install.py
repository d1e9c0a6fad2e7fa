"""`install-service` for real: the unit it writes passes `systemd-analyze verify`, holds
no credential, and its ExecStart command line, run as a real process (systemd itself
does not run here), registers with a real manager on 127.0.0.1 and renders a job.

Nothing is enabled on this machine: `--unit-dir` writes into a temp dir and
`--no-enable` only prints the systemctl commands (their argv lists are checked in
tests/unit/test_service_files.py).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import MAIN, ROOT, TOKEN, Farm, Http, Proc, free_port, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Farm]:
    monkeypatch.delenv("FLAMENCO_TOKEN", raising=False)
    farm = Farm(tmp_path)
    farm.start_manager()
    try:
        yield farm
    finally:
        farm.stop()
        farm.dump_logs()


def flamenco(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLAMENCO_TOKEN"}
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def exec_start(unit: Path) -> list[str]:
    line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(line[10:])]


def start(name: str, argv: list[str], log_dir: Path) -> Proc:
    """The unit's command line as systemd would start it: no token in the environment,
    the work dir as the working directory."""
    log_path = log_dir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if k != "FLAMENCO_TOKEN"}
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
    return Proc(name, popen, log_path)


def install_worker(farm: Farm, *extra: str) -> subprocess.CompletedProcess[str]:
    return flamenco(
        "worker",
        "install-service",
        "--system",
        "--unit-dir",
        str(farm.root / "units"),
        "--no-enable",
        "--manager",
        farm.url,
        "--work-dir",
        str(farm.root / "w"),
        "--name",
        "svc-node",
        "--heartbeat",
        "1",
        *extra,
    )


def test_installed_worker_unit_registers_and_renders(farm: Farm) -> None:
    # Its job is a `command`: the node's owner opts in (docs/security.md).
    done = install_worker(farm, "--token", TOKEN, "--accept", "command")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "systemctl enable --now flamenco-worker.service" in done.stdout  # not run
    unit = farm.root / "units" / "flamenco-worker.service"
    text = unit.read_text()
    creds = json.loads((farm.root / "w" / "credentials.json").read_text())
    assert TOKEN not in text and creds["secret"] not in text and "--token" not in text
    assert oct((farm.root / "w" / "credentials.json").stat().st_mode & 0o777) == "0o600"
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
        )
        assert verify.returncode == 0, verify.stderr

    argv = exec_start(unit)
    assert argv[argv.index("--work-dir") + 1] == str(farm.root / "w")
    farm.workers["svc-node"] = worker = start("svc-node", argv, farm.root)
    wait_until(
        lambda: farm.http.get("/workers").get("svc-node", {}).get("connection") == "online",
        30,
        "the service's worker online",
    )
    assert farm.http.get("/workers")["svc-node"]["id"] == creds["id"]  # no new registration
    settings = {
        "argv": [sys.executable, "-c", "print('from the service')"],
        "frame_start": 1,
        "frame_end": 2,
    }
    job = farm.http.post(
        "/jobs", {"name": "svc", "type": "command", "settings": settings, "chunk_size": 1}
    )
    wait_until(
        lambda: farm.http.get(f"/jobs/{job['id']}")["status"] == "completed",
        30,
        "the job on the service's worker",
    )
    assert worker.alive()

    status = flamenco(
        "worker",
        "status",
        "--system",
        "--unit-dir",
        str(farm.root / "units"),
        "--work-dir",
        str(farm.root / "w"),
    )
    assert "flamenco-worker: installed" in status.stdout, status.stdout
    assert "a worker process on" in status.stdout and ": yes" in status.stdout
    assert f"credentials: worker {creds['id']} of {farm.url}" in status.stdout
    assert status.returncode == 0  # no systemd to ask here: the worker's lock answers

    worker.stop()
    gone = flamenco(
        "worker",
        "uninstall-service",
        "--system",
        "--no-enable",
        "--unit-dir",
        str(farm.root / "units"),
    )
    assert gone.returncode == 0, gone.stderr
    assert not unit.exists()
    status = flamenco(
        "worker",
        "status",
        "--system",
        "--unit-dir",
        str(farm.root / "units"),
        "--work-dir",
        str(farm.root / "w"),
    )
    assert status.returncode == 3 and "not installed" in status.stdout


def test_install_without_token_or_credentials_is_refused(farm: Farm) -> None:
    done = install_worker(farm)
    assert done.returncode == 2
    assert "give --token" in done.stderr and "--pair" in done.stderr
    assert not (farm.root / "units").exists()


def test_install_with_a_pairing_code(farm: Farm) -> None:
    code = farm.http.post("/pairing-codes", {})["code"]
    done = install_worker(farm, "--pair", code)
    assert done.returncode == 0, done.stderr
    text = (farm.root / "units" / "flamenco-worker.service").read_text()
    assert code not in text and "--pair" not in text
    assert "svc-node" in farm.http.get("/workers")
    # Reinstalling needs neither: the stored secret is checked with the manager.
    again = install_worker(farm)
    assert again.returncode == 0, again.stderr


def test_install_with_a_wrong_token_fails_and_writes_nothing(farm: Farm) -> None:
    done = install_worker(farm, "--token", "wrong")
    assert done.returncode == 1 and "refused the farm token" in done.stderr
    assert not (farm.root / "units").exists()


def test_manager_unit_runs_headless_with_its_stored_token(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    done = flamenco(
        "manager",
        "install-service",
        "--system",
        "--unit-dir",
        str(tmp_path / "units"),
        "--no-enable",
        "--data-dir",
        str(data),
        "--token",
        "svc-manager-token",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-advertise",
    )
    assert done.returncode == 0, done.stderr
    unit = tmp_path / "units" / "flamenco-manager.service"
    assert "svc-manager-token" not in unit.read_text()
    assert (data / "token").read_text().strip() == "svc-manager-token"
    assert oct((data / "token").stat().st_mode & 0o777) == "0o600"
    argv = exec_start(unit)
    assert argv[argv.index("manager") + 1] == "--headless"
    manager = start("manager", argv, tmp_path)
    try:
        http = Http(f"http://127.0.0.1:{port}", token="svc-manager-token")
        wait_until(http.healthy, 20, "the service's manager")
        assert http.request("GET", "/workers").status == 200
        assert Http(http.base, token="other").request("GET", "/workers").status == 401
    finally:
        manager.stop()
        print(manager.log())


def test_a_token_passed_on_to_the_worker_is_refused(tmp_path: Path) -> None:
    """However it is spelled, a token never reaches the unit's command line."""
    for smuggled in (["--", "--token", "x"], ["--token=x", "--", "--token", "y"]):
        done = flamenco(
            "worker",
            "install-service",
            "--system",
            "--unit-dir",
            str(tmp_path / "units"),
            "--no-enable",
            "--manager",
            "http://127.0.0.1:9",
            "--work-dir",
            str(tmp_path / "w"),
            *smuggled,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert not (tmp_path / "units").exists()
