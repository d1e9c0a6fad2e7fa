"""A farm you can trust, with real processes: identity is not the name, a copied work
dir is refused, a pairing code makes a new worker, command execution is opt-in on each
node, and a worker refuses a discovered manager that is not its own (docs/security.md).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from flamenco_gui import discovery
from tests.procs import TOKEN, Farm, Http, spawn, wait_until, wait_while_alive

pytestmark = pytest.mark.timeout(180)

SLEEP_1S = [sys.executable, "-c", "import time; time.sleep(1)"]


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Farm]:
    monkeypatch.delenv("FLAMENCO_TOKEN", raising=False)
    farm = Farm(tmp_path / "a")
    farm.root.mkdir()
    try:
        yield farm
    finally:
        farm.stop()
        farm.dump_logs()


def command_job(http: Http, argv: list[str], frames: int, name: str = "job") -> int:
    settings = {"argv": argv, "frame_start": 1, "frame_end": frames}
    body = {"name": name, "type": "command", "settings": settings, "chunk_size": 1}
    return int(http.post("/jobs", body)["id"])


def wait_job(http: Http, job_id: int, timeout: float) -> float:
    """Seconds until the job completed."""
    began = time.monotonic()
    wait_until(
        lambda: http.get(f"/jobs/{job_id}")["status"] == "completed", timeout, f"job {job_id}"
    )
    return time.monotonic() - began


def runners(http: Http, job_id: int) -> set[int]:
    return {t["worker_id"] for t in http.job_tasks(job_id)}


def test_two_nodes_with_one_name_are_two_workers_that_both_get_work(farm: Farm) -> None:
    farm.start_manager()
    farm.add_worker("clone")
    args = ["worker", "--manager", farm.url, "--token", TOKEN, "--name", "clone"]
    args += ["--work-dir", str(farm.root / "clone-b"), "--accept", "command"]
    farm.workers["clone-b"] = clone_b = spawn("clone-b", args, farm.root)
    wait_while_alive(clone_b, lambda: len(farm.http.get("/workers")) == 2, 20, "both clones")
    workers = farm.http.get("/workers")
    assert set(workers) == {"clone", "clone (2)"}  # the seed's hostname keys stay unique
    assert {w["hostname"] for w in workers.values()} == {"clone"}
    same = command_job(farm.http, SLEEP_1S, 8, "same name")
    same_time = wait_job(farm.http, same, 40)
    assert len(runners(farm.http, same)) == 2
    for name in list(farm.workers):
        farm.workers.pop(name).stop()
    farm.add_worker("one")
    farm.add_worker("two")
    distinct = command_job(farm.http, SLEEP_1S, 8, "distinct names")
    distinct_time = wait_job(farm.http, distinct, 40)
    print(f"8 x 1 s: {same_time:.1f} s with one name, {distinct_time:.1f} s with two")
    assert same_time < distinct_time * 1.5 + 1.0
    assert same_time < 4 * 1.0 * 2.5  # two at a time, not one (nor a livelock)


def test_a_copied_work_dir_is_refused_and_reset_identity_fixes_it(farm: Farm) -> None:
    farm.start_manager()
    original = farm.add_worker("orig", "--heartbeat", "1")
    wait_until(lambda: (farm.root / "orig" / "credentials.json").exists(), 10, "credentials")
    shutil.copytree(farm.root / "orig", farm.root / "copy")
    args = ["worker", "--manager", farm.url, "--name", "copy", "--heartbeat", "1"]
    args += ["--work-dir", str(farm.root / "copy")]
    copy = spawn("copy", args, farm.root)
    farm.workers["copy"] = copy
    assert copy.popen.wait(30) == 1
    assert "copied work dir" in copy.log() and "flamenco worker --reset-identity" in copy.log()
    assert original.alive()
    assert [w["connection"] for w in farm.http.get("/workers").values()] == ["online"]
    job = command_job(farm.http, [sys.executable, "-c", "print('ok')"], 1)
    wait_job(farm.http, job, 30)  # the original goes on working

    token_file = farm.root / "token.txt"
    token_file.write_text(TOKEN + "\n")
    fixed = spawn(
        "copy-reset", [*args, "--reset-identity", "--token-file", str(token_file)], farm.root
    )
    farm.workers["copy-reset"] = fixed
    wait_while_alive(fixed, lambda: "copy" in farm.http.get("/workers"), 30, "a new identity")
    assert len(farm.http.get("/workers")) == 2
    assert TOKEN not in " ".join(fixed.popen.args)  # type: ignore[arg-type]


def test_pairing_with_an_existing_name_makes_a_new_worker_and_the_old_goes_on(
    farm: Farm,
) -> None:
    farm.start_manager()
    farm.add_worker("render", "--heartbeat", "1")
    old_id = farm.http.get("/workers")["render"]["id"]
    code = farm.http.post("/pairing-codes", {})["code"]
    args = ["worker", "--manager", farm.url, "--name", "render", "--pair", code]
    args += ["--work-dir", str(farm.root / "paired"), "--heartbeat", "1", "--accept", "command"]
    paired = spawn("paired", args, farm.root)
    farm.workers["paired"] = paired
    wait_while_alive(paired, lambda: "render (2)" in farm.http.get("/workers"), 30, "pairing")
    workers = farm.http.get("/workers")
    assert workers["render"]["id"] == old_id and workers["render (2)"]["id"] != old_id
    job = command_job(farm.http, SLEEP_1S, 4)
    wait_job(farm.http, job, 40)
    assert runners(farm.http, job) == {old_id, workers["render (2)"]["id"]}
    assert "refused" not in farm.workers["render"].log()
    stored = json.loads((farm.root / "paired" / "credentials.json").read_text())
    assert TOKEN not in json.dumps(stored)


def test_a_worker_that_does_not_accept_command_is_never_handed_one(farm: Farm) -> None:
    farm.start_manager()
    farm.add_worker("strict", "--accept", "ffmpeg", "--heartbeat", "1")  # the defaults only
    mark = farm.root / "ran"
    job = command_job(farm.http, [sys.executable, "-c", f"open({str(mark)!r}, 'w')"], 2)
    time.sleep(3)
    shown = farm.http.get(f"/jobs/{job}")
    assert shown["status"] == "queued" and shown["task_counts"] == {"queued": 2}
    assert shown["waiting_reason"] == "no worker accepts command jobs"
    assert not mark.exists()
    farm.add_worker("open")  # accepts command (tests/procs.py)
    wait_job(farm.http, job, 30)
    assert runners(farm.http, job) == {farm.http.get("/workers")["open"]["id"]}
    assert farm.http.get(f"/jobs/{job}")["waiting_reason"] is None


class LyingManager:
    """A manager stub that hands a `command` task to a worker that does not accept it."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.reports: list[dict[str, Any]] = []
        self.handed = False
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/workers", self.register)
        app.router.add_patch("/workers/1", self.pull)
        app.router.add_get("/tasks/7", self.task)
        app.router.add_patch("/tasks/7", self.report)
        app.router.add_post("/tasks/7/log", self.report)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        ready.set()
        self.loop.run_forever()

    async def register(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({body["hostname"]: {"id": 1, "secret": "s" * 40}})

    async def pull(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["status"] == "available" and not self.handed:
            self.handed = True
            return web.json_response({"task_id": 7, "lease": 1})
        await asyncio.sleep(0.5)
        return web.json_response({"task_id": None, "lease": None})

    async def task(self, request: web.Request) -> web.Response:
        # Claims to be a Blender render; its command is any program at all.
        return web.json_response({"id": 7, "type": "blender_render", "commands": [self.argv]})

    async def report(self, request: web.Request) -> web.Response:
        self.reports.append(await request.json())
        return web.Response(status=204)


def test_a_worker_refuses_a_command_task_a_manager_sends_anyway(tmp_path: Path) -> None:
    mark = tmp_path / "ran"
    stub = LyingManager([sys.executable, "-c", f"open({str(mark)!r}, 'w')"])
    args = ["worker", "--manager", f"http://127.0.0.1:{stub.port}", "--token", "t"]
    args += ["--name", "n", "--work-dir", str(tmp_path / "w"), "--heartbeat", "1"]
    worker = spawn("worker", [*args, "--update-check", "0"], tmp_path)
    try:
        final = wait_while_alive(
            worker,
            lambda: next((r for r in stub.reports if r.get("status") == "failed"), None),
            30,
            "the worker's refusal",
        )
    finally:
        worker.stop()
        print(worker.log())
    assert "does not accept command tasks" in final["error"], final
    assert "--accept" in final["error"]
    assert not mark.exists()


def test_a_discovered_manager_of_another_farm_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(discovery.LOOPBACK_ENV, "1")
    monkeypatch.delenv("FLAMENCO_TOKEN", raising=False)
    ours, theirs = Farm(tmp_path / "ours"), Farm(tmp_path / "theirs")
    ours.root.mkdir()
    theirs.root.mkdir()
    work = str(tmp_path / "node")
    args = ["worker", "--name", "node", "--work-dir", work, "--heartbeat", "1"]
    try:
        ours.start_manager()
        wait_until(lambda: "advertising" in ours.manager.log(), 10, "our advertisement")  # type: ignore[union-attr]
        first = spawn("node-1", [*args, "--token", TOKEN], tmp_path)
        ours.workers["node-1"] = first
        wait_while_alive(first, lambda: "node" in ours.http.get("/workers"), 30, "registration")
        pinned = json.loads((tmp_path / "node" / "credentials.json").read_text())["farm"]
        assert pinned == (ours.root / "manager" / "farm-id").read_text().strip()
        first.stop()
        ours.stop()
        # Another manager advertises the same service (same farm token, even).
        theirs.start_manager()
        wait_until(lambda: "advertising" in theirs.manager.log(), 10, "their advertisement")  # type: ignore[union-attr]
        second = spawn("node-2", args, tmp_path)
        theirs.workers["node-2"] = second
        assert second.popen.wait(40) == 1
        log = second.log()
        assert f"not farm {pinned}" in log and "refusing to send it any credential" in log
        assert theirs.http.get("/workers") == {}  # it never registered there
    finally:
        for f in (ours, theirs):
            f.stop()
            f.dump_logs()
