"""Pairing with real processes: a typed code replaces the farm token on a render node.

The code is issued over the API, redeemed by `worker --pair CODE`, and works once; a wrong,
expired or used code gets one and the same refusal, and guessing is rate-limited.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flamenco_gui.api.routes_pairing import REFUSED
from flamenco_gui.farm.pairing import FAILS_PER_CLIENT
from tests.procs import TOKEN, Farm, Http, Proc, spawn, wait_until, wait_while_alive

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Farm]:
    monkeypatch.delenv("FLAMENCO_TOKEN", raising=False)  # paired workers get no token
    farm = Farm(tmp_path)
    try:
        yield farm
    finally:
        farm.stop()
        farm.dump_logs()


def run_worker(farm: Farm, name: str, *args: str, log_name: str | None = None) -> Proc:
    argv = ["worker", "--manager", farm.url, "--name", name]
    argv += ["--work-dir", str(farm.root / name), "--heartbeat", "1", "--accept", "command", *args]
    log_name = log_name or name
    farm.workers[log_name] = worker = spawn(log_name, argv, farm.root)
    return worker


def new_code(farm: Farm, **body: float) -> str:
    issued = farm.http.post("/pairing-codes", body)
    assert issued["expires_in"] == body.get("ttl", 600)
    assert issued["expires_at"] > time.time()
    return issued["code"]


def redeem(farm: Farm, code: str, hostname: str = "somebody") -> tuple[int, dict]:
    reply = Http(farm.url, token=None).request(
        "POST", "/pairing", {"code": code, "hostname": hostname}
    )
    return reply.status, reply.json()


def run_job(farm: Farm) -> None:
    settings = {
        "argv": [sys.executable, "-c", "print('paired ok')"],
        "frame_start": 1,
        "frame_end": 1,
    }
    job = farm.http.post("/jobs", {"name": "j", "type": "command", "settings": settings})
    wait_until(lambda: farm.http.get(f"/jobs/{job['id']}")["status"] == "completed", 30, "the job")


def test_issuing_a_code_needs_the_farm_token(farm: Farm) -> None:
    farm.start_manager()
    reply = Http(farm.url, token=None).request("POST", "/pairing-codes", {})
    assert reply.status == 401
    code = new_code(farm)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code), code


def test_a_code_pairs_a_worker_once(farm: Farm) -> None:
    farm.start_manager()
    code = new_code(farm)
    worker = run_worker(farm, "node-p", "--pair", code.lower())  # typed in lower case
    wait_while_alive(worker, lambda: "node-p" in farm.http.get("/workers"), 30, "pairing")
    run_job(farm)  # its own secret is enough for every call a worker makes

    creds = json.loads((farm.root / "node-p" / "credentials.json").read_text())
    assert creds["id"] == farm.http.get("/workers")["node-p"]["id"] and creds["secret"]
    for path in (farm.root / "node-p").rglob("*"):  # the farm token is nowhere on the node
        assert not path.is_file() or TOKEN not in path.read_text(errors="replace"), path

    # Used: the code is spent, and says no more than any wrong code.
    assert redeem(farm, code) == (403, {"error": REFUSED})
    assert "somebody" not in farm.http.get("/workers")

    # Restarted without code or token, the worker carries on with its stored secret.
    worker.stop()
    again = run_worker(farm, "node-p", log_name="node-p-again")
    wait_until(lambda: "starting" in again.log(), 20, "the restarted worker")
    run_job(farm)
    assert again.alive() and "registered" not in again.log()
    assert list(farm.http.get("/workers")) == ["node-p"]


def test_wrong_expired_and_used_codes_get_the_same_refusal(farm: Farm) -> None:
    farm.start_manager()
    expired = new_code(farm, ttl=1)
    used = new_code(farm)
    status, body = redeem(farm, used, "first")
    assert status == 200 and body["first"]["secret"]
    time.sleep(1.2)
    answers = {
        "wrong": redeem(farm, "ABCD-EFGH"),
        "expired": redeem(farm, expired),
        "used": redeem(farm, used),
    }
    assert set(map(json.dumps, answers.values())) == {json.dumps((403, {"error": REFUSED}))}
    # Bad input is still bad input, named as such (it reveals nothing about codes).
    reply = Http(farm.url, token=None).request("POST", "/pairing", {"code": 5, "hostname": "x"})
    assert reply.status == 422 and "code" in reply.json()["error"]


def test_a_worker_with_a_wrong_code_exits_with_a_clear_error(farm: Farm) -> None:
    farm.start_manager()
    worker = run_worker(farm, "node-w", "--pair", "ABCD-EFGH")
    assert worker.popen.wait(30) == 1
    assert "refused the pairing" in worker.log() and "ask for a new one" in worker.log()
    assert "node-w" not in farm.http.get("/workers")


def test_guessing_is_rate_limited(farm: Farm) -> None:
    farm.start_manager()
    good = new_code(farm)
    for i in range(FAILS_PER_CLIENT):
        assert redeem(farm, f"WRONG{i:03d}")[0] == 403
    reply = Http(farm.url, token=None).request(
        "POST", "/pairing", {"code": good, "hostname": "lucky"}
    )
    assert reply.status == 429, reply.text
    assert int(reply.headers["Retry-After"]) > 0
    assert "lucky" not in farm.http.get("/workers")


def test_a_forgotten_paired_worker_is_told_to_pair_again(farm: Farm) -> None:
    farm.start_manager()
    worker = run_worker(farm, "node-f", "--pair", new_code(farm))
    wait_while_alive(worker, lambda: "node-f" in farm.http.get("/workers"), 30, "pairing")
    worker_id = farm.http.get("/workers")["node-f"]["id"]
    assert farm.http.request("DELETE", f"/workers/{worker_id}").status == 200
    assert worker.popen.wait(40) == 1
    assert "pair it again with --pair CODE" in worker.log()
