"""`GET /downloads`: the builds a manager offers its workers, and `PUT
/workers/{id}/version` / `GET /worker-versions`: what the workers say they run.

A real manager on loopback; the builds are small files in its downloads folder (this
manager runs from a checkout, so it does not offer itself; the one-file case runs in
tests/e2e/test_self_update.py with the real executable).
"""

from __future__ import annotations

import asyncio
import hashlib

from flamenco_gui.manager import Manager
from tests.api.apiclient import Api

LINUX = "flamenco-0.9.0-linux-x86_64"
WINDOWS = "flamenco-0.9.1-windows-x86_64.exe"


def drop(manager: Manager, name: str, data: bytes) -> str:
    folder = manager.data_dir / "downloads"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


async def test_builds_on_offer_with_their_hashes(manager: Manager, api: Api) -> None:
    linux = drop(manager, LINUX, b"linux build")
    windows = drop(manager, WINDOWS, b"windows build")
    drop(manager, "notes.txt", b"not a build")
    r = await api.get("/downloads")
    assert r.status == 200, r
    builds = {b["name"]: b for b in r.json["builds"]}
    assert set(builds) == {LINUX, WINDOWS}
    assert builds[LINUX] == {
        "name": LINUX,
        "version": "0.9.0",
        "platform": "linux",
        "arch": "x86_64",
        "size": 11,
        "sha256": linux,
        "url": f"/downloads/{LINUX}",
    }
    assert builds[WINDOWS]["platform"] == "windows" and builds[WINDOWS]["sha256"] == windows
    got = await api.get(f"/downloads/{LINUX}")
    assert got.status == 200 and got.raw == b"linux build"
    assert got.headers["Content-Type"] == "application/octet-stream"


async def test_a_published_checksum_wins_over_the_files_own(manager: Manager, api: Api) -> None:
    drop(manager, LINUX, b"tampered")
    published = "ab" * 32
    drop(manager, LINUX + ".sha256", f"{published}  {LINUX}\n".encode())
    r = await api.get("/downloads")
    assert [b["sha256"] for b in r.json["builds"]] == [published]


async def test_downloads_need_a_credential_and_an_offered_name(manager: Manager, api: Api) -> None:
    drop(manager, LINUX, b"x")
    worker = await api.register("node-1")
    assert (await worker.api.get(f"/downloads/{LINUX}")).status == 200  # its own secret
    assert (await api.as_(None).get("/downloads")).status == 401
    assert (await api.as_("wrong").get(f"/downloads/{LINUX}")).status == 401
    for name in ("flamenco-1.0-linux-x86_64", "..%2Ftoken", "token", "notes.txt"):
        r = await api.get(f"/downloads/{name}")
        assert r.status == 404, (name, r)
        assert r.error


async def test_workers_report_their_version_for_themselves_only(manager: Manager, api: Api) -> None:
    drop(manager, LINUX, b"x")
    one = await api.register("node-1")
    two = await api.register("node-2")
    report = {
        "version": "0.1.0",
        "platform": "linux",
        "arch": "x86_64",
        "frozen": True,
        "sha256": "cd" * 32,
    }
    r = await one.api.put(f"/workers/{one.id}/version", report)
    assert r.status == 200, r
    assert (await one.api.put(f"/workers/{two.id}/version", report)).status == 403
    bad = await one.api.put(f"/workers/{one.id}/version", {**report, "frozen": "yes"})
    assert bad.status == 422 and "frozen" in bad.error
    assert (await api.put("/workers/999/version", report)).status == 404
    versions = (await api.get("/worker-versions")).json
    assert set(versions) == {str(one.id)}
    assert versions[str(one.id)]["version"] == "0.1.0"
    assert versions[str(one.id)]["update"] == "0.9.0"  # the newer build for its platform
    assert (await one.api.get("/worker-versions")).status == 403  # the wrangler's view


def version_report(version: str, frozen: bool = True) -> dict:
    return {"version": version, "platform": "linux", "arch": "x86_64", "frozen": frozen}


async def test_a_reported_version_shows_in_the_workers_list(manager: Manager, api: Api) -> None:
    drop(manager, LINUX, b"x")
    node = await api.register("node-1")
    assert (await api.get("/workers")).json["node-1"]["version"] is None
    r = await node.api.put(f"/workers/{node.id}/version", version_report("0.1.0"))
    assert r.status == 200, r
    shown = (await api.get("/workers")).json["node-1"]
    assert shown["version"] == "0.1.0"
    assert shown["build"]["frozen"] is True and shown["build"]["platform"] == "linux"
    assert (await api.get(f"/workers/{node.id}")).json["version"] == "0.1.0"
    assert (await api.get("/worker-versions")).json[str(node.id)]["update"] == "0.9.0"


async def test_update_all_flags_the_next_pull_of_older_executables_once(
    manager: Manager, api: Api
) -> None:
    drop(manager, LINUX, b"x")
    old = await api.register("old-exe")
    current = await api.register("current-exe")
    checkout = await api.register("checkout")
    await old.api.put(f"/workers/{old.id}/version", version_report("0.1.0"))
    await current.api.put(f"/workers/{current.id}/version", version_report("0.9.0"))
    await checkout.api.put(f"/workers/{checkout.id}/version", version_report("0.1.0", False))
    assert "check_update" not in await old.pull()  # nothing asked yet: the seed's answer

    held = asyncio.ensure_future(old.pull(wait=20))  # a held pull, as idle workers hold one
    await asyncio.sleep(0.3)
    assert (await old.api.post("/workers/update", {})).status == 403  # the wrangler's action
    r = await api.post("/workers/update", {})
    assert r.status == 200, r
    assert r.json == {"requested": [old.id]}
    answer = await asyncio.wait_for(held, 5)  # answered at once, not after 20 s
    assert answer == {"task_id": None, "lease": None, "check_update": True}
    assert "check_update" not in await old.pull()  # once
    assert "check_update" not in await current.pull()
    assert "check_update" not in await checkout.pull()  # a checkout cannot update itself

    # Asked while it renders: no flag on its watch; the next pull, between tasks, has it.
    job = await api.job("j")
    got = await old.pull()
    assert got["task_id"] is not None and "check_update" not in got
    assert (await api.post("/workers/update", {})).json == {"requested": [old.id]}
    r = await old.api.patch(
        f"/workers/{old.id}", {"status": "rendering", "task_id": got["task_id"]}
    )
    assert r.status == 200 and r.json["task_id"] == got["task_id"]
    assert "check_update" not in r.json
    await old.complete(got)
    assert (await api.get(f"/jobs/{job['id']}")).json["status"] == "completed"
    assert (await old.pull())["check_update"] is True
