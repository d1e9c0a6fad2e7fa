"""`GET /downloads`: the builds a manager offers its workers, and `PUT
/workers/{id}/version` / `GET /worker-versions`: what the workers say they run.

A real manager on loopback; the builds are small files in its downloads folder (this
manager runs from a checkout, so it does not offer itself; the one-file case runs in
tests/e2e/test_self_update.py with the real executable).
"""

from __future__ import annotations

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
