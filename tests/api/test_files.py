"""The manager's file store over real HTTP: check, upload (streamed, verified,
resumable), manifests on jobs, workers' downloads and frames, limits, clean-up."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
from pathlib import Path
from typing import Any

from PIL import Image

from flamenco_gui.manager import Manager
from tests.api.apiclient import Api


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def upload(api: Api, data: bytes, offset: int = 0, size: int | None = None) -> Any:
    return await api.call(
        "PUT",
        f"/files/{sha(data)}",
        data=data[offset:],
        params={"size": str(len(data) if size is None else size), "offset": str(offset)},
        headers={"Content-Type": "application/octet-stream"},
    )


def png(seed: int, uniform: bool = False) -> bytes:
    """A small PNG frame: noise (sound), or one colour (fails the uniform check)."""
    if uniform:
        image = Image.new("RGB", (16, 12), (0, 0, 0))
    else:
        image = Image.frombytes("RGB", (16, 12), hashlib.shake_128(bytes([seed])).digest(576))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def manager_job(files: dict[str, bytes], name: str = "shot", **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "blender_render",
        "chunk_size": 2,
        "storage": "manager",
        "settings": {
            "filepath": "scene.blend",
            "render_output": "######",
            "frame_start": 1,
            "frame_end": 4,
            "format": "PNG",
        }
        | settings,
        "files": [{"path": p, "sha256": sha(d), "size": len(d)} for p, d in files.items()],
    }


async def test_check_upload_and_fetch(api: Api, manager: Manager) -> None:
    blend, tex = b"BLENDER-v304" + os.urandom(3000), os.urandom(5000)
    refs = [{"sha256": sha(d), "size": len(d)} for d in (blend, tex)]
    r = await api.post("/files/check", {"files": refs})
    assert r.status == 200 and [m["offset"] for m in r.json["missing"]] == [0, 0]
    r = await upload(api, blend)
    assert r.status == 200 and r.json["stored"] is True
    r = await api.post("/files/check", {"files": refs})
    assert [m["sha256"] for m in r.json["missing"]] == [sha(tex)]
    assert (await api.get("/health")).json["files_bytes"] == len(blend)
    # the farm token may read a stored file; Range works
    r = await api.get(f"/files/{sha(blend)}", headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.raw == blend[10:20]


async def test_a_cut_upload_resumes_where_it_stopped(api: Api, manager: Manager) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = await api.call(
        "PUT", f"/files/{sha(data)}", data=data[:1_000_000],
        params={"size": str(len(data)), "offset": "0"},
    )  # fmt: skip
    assert r.status == 200 and r.json == {
        "sha256": sha(data), "size": len(data), "stored": False, "offset": 1_000_000,
    }  # fmt: skip
    r = await api.post("/files/check", {"files": [{"sha256": sha(data), "size": len(data)}]})
    assert r.json["missing"][0]["offset"] == 1_000_000
    wrong = await upload(api, data, offset=5)
    assert wrong.status == 409 and "resume at 1000000" in wrong.error
    r = await upload(api, data, offset=1_000_000)
    assert r.status == 200 and r.json["stored"] is True
    stored = manager.data_dir / "files" / "objects" / sha(data)[:2] / sha(data)
    assert stored.read_bytes() == data


async def test_bytes_that_do_not_match_their_hash_are_not_kept(api: Api, manager: Manager) -> None:
    data = os.urandom(1000)
    r = await api.call("PUT", f"/files/{sha(b'other')}", data=data, params={"size": str(len(data))})
    assert r.status == 422 and "hash to" in r.error
    assert not list((manager.data_dir / "files").rglob(sha(b"other")))
    r = await upload(api, data, size=10)
    assert r.status == 413 and "declared size" in r.error
    assert not list((manager.data_dir / "files" / "partial").iterdir())


async def test_limits_are_named(api: Api, limit: Any) -> None:
    limit("max_file_bytes", 100)
    r = await upload(api, os.urandom(200))
    assert r.status == 413 and "max_file_bytes" in r.error
    limit("max_check_files", 2)
    refs = [{"sha256": sha(bytes([i])), "size": 1} for i in range(3)]
    r = await api.post("/files/check", {"files": refs})
    assert r.status == 413 and "max_check_files" in r.error
    r = await api.call("PUT", "/files/abc", data=b"x", params={"size": "1"})
    assert r.status == 422 and "sha256" in r.error


async def test_a_manager_job_needs_its_files_and_safe_paths(api: Api) -> None:
    files = {"scene.blend": b"blend", "tex/a.png": b"png"}
    r = await api.post("/jobs", manager_job(files))
    assert r.status == 422 and "not uploaded yet" in r.error
    for data in files.values():
        assert (await upload(api, data)).status == 200
    for bad, says in [
        (manager_job(files, filepath="/home/artist/scene.blend"), "settings.filepath"),
        (manager_job(files, render_output="/srv/out/####"), "settings.render_output"),
        (manager_job({**files, "../etc/passwd": b"png"}), "files.path"),
    ]:
        r = await api.post("/jobs", bad)
        assert r.status == 422 and says in r.error, r
    r = await api.post("/jobs", manager_job(files))
    assert r.status == 201 and r.json["storage"] == "manager"
    # a manager job's commands hold only paths inside the pack
    (task, *_) = (await api.tasks(job_id=r.json["id"]))["tasks"]
    argv = (await api.task(task["id"]))["commands"][0]
    assert "scene.blend" in argv and "######" in argv


async def test_a_worker_fetches_its_jobs_files_and_sends_frames(api: Api, manager: Manager) -> None:
    files = {"scene.blend": b"blend-bytes", "tex/a.png": b"png-bytes"}
    for data in files.values():
        await upload(api, data)
    job = (await api.post("/jobs", manager_job(files, name="sh/010"))).json
    stranger = os.urandom(64)
    await upload(api, stranger)
    worker = await api.register("render-01")
    got = await worker.pull()
    r = await worker.api.get(f"/tasks/{got['task_id']}/files")
    assert r.status == 200 and r.json["storage"] == "manager" and r.json["output"] == "sh_010"
    assert {f["path"]: f["sha256"] for f in r.json["files"]} == {
        p: sha(d) for p, d in files.items()
    }
    assert (await worker.api.get(f"/files/{sha(b'png-bytes')}")).raw == b"png-bytes"
    r = await worker.api.get(f"/files/{sha(stranger)}")
    assert r.status == 403  # not a file of its task's job
    frame = png(1)
    assert (await upload(worker.api, frame)).status == 200
    body = {"path": "000001.png", "sha256": sha(frame), "lease": got["lease"]}
    r = await worker.api.post(f"/tasks/{got['task_id']}/frames", body)
    assert r.status == 201, r
    placed = manager.data_dir / "output" / "sh_010" / "000001.png"
    assert placed.read_bytes() == frame and r.json["path"] == str(placed)
    again = await worker.api.post(f"/tasks/{got['task_id']}/frames", body)
    assert again.status == 201  # a retry after a lost answer lands once
    r = await worker.api.post(
        f"/tasks/{got['task_id']}/frames", {**body, "path": "../../escape.png"}
    )
    assert r.status == 422
    assert job["id"]


async def test_unreferenced_files_go_after_their_grace(api: Api, manager: Manager) -> None:
    kept, orphan = b"scene", os.urandom(100)
    for data in (kept, orphan):
        await upload(api, data)
    await api.post("/jobs", manager_job({"scene.blend": kept}))
    store = manager.data_dir / "files" / "objects"
    old = time.time() - 3600
    for data in (kept, orphan):
        os.utime(store / sha(data)[:2] / sha(data), (old, old))
    manager.service.config.unreferenced_files_grace = 7200
    assert await manager.service.files().collect() == 0  # both still in their grace
    manager.service.config.unreferenced_files_grace = 60
    assert await manager.service.files().collect() == len(orphan)
    assert (store / sha(kept)[:2] / sha(kept)).exists()
    assert not (store / sha(orphan)[:2] / sha(orphan)).exists()
    assert (await api.get("/health")).json["files_bytes"] == len(kept)


def test_files_path(tmp_path: Path) -> None:
    """The data dir's layout the docs describe (docs/storage.md)."""
    m = Manager(tmp_path, host="127.0.0.1", port=0)
    try:
        assert (tmp_path / "files" / "objects").is_dir()
        assert m.service.files().output_root == tmp_path / "output"
    finally:
        m.store.close()


async def test_a_manager_task_completes_only_with_its_frames_on_the_manager(
    api: Api, manager: Manager
) -> None:
    files = {"scene.blend": b"blend"}
    await upload(api, files["scene.blend"])
    job = (await api.post("/jobs", manager_job(files, name="sh030"))).json
    worker = await api.register("render-01")
    got = await worker.pull()
    task = await api.task(got["task_id"])
    assert (task["frame_start"], task["frame_end"]) == (1, 2) and task["storage"] == "manager"
    r = await worker.report(got["task_id"], lease=got["lease"], status="completed")
    assert r.status == 409 and "0 of its 2 frames" in r.error
    for n in (1, 2):
        frame = png(n)
        await upload(worker.api, frame)
        body = {"path": f"{n:06d}.png", "sha256": sha(frame), "lease": got["lease"]}
        assert (await worker.api.post(f"/tasks/{got['task_id']}/frames", body)).status == 201
    await worker.complete(got)
    assert (await api.task(got["task_id"]))["status"] == "completed"
    assert job["storage"] == "manager"


async def test_a_frame_that_came_back_is_checked_on_the_manager(api: Api, manager: Manager) -> None:
    """The manager checks a frame that came back as the worker should have: a bad one
    is refused naming frame and check, not left in the output folder, not counted
    towards the task's completion, and its record says why; a side output (no frame of
    the task) is placed unchecked."""
    files = {"scene.blend": b"blend"}
    await upload(api, files["scene.blend"])
    job = (await api.post("/jobs", manager_job(files, name="sh040"))).json
    worker = await api.register("render-01")
    got = await worker.pull()
    folder = manager.data_dir / "output" / "sh040"
    tasks_frames = f"/tasks/{got['task_id']}/frames"
    black, sound = png(0, uniform=True), png(2)
    for data in (black, sound):
        await upload(worker.api, data)
    r = await worker.api.post(
        tasks_frames, {"path": "000001.png", "sha256": sha(black), "lease": got["lease"]}
    )
    assert r.status == 422, r
    assert "frame 1 failed the uniform check" in r.error and "on the manager" in r.error
    assert not (folder / "000001.png").exists()
    (record,) = (await api.get(f"/jobs/{job['id']}/frames")).json["frames"]
    assert record["frame"] == 1 and "uniform check" in record["check"]
    r = await worker.api.post(
        tasks_frames, {"path": "000002.png", "sha256": sha(sound), "lease": got["lease"]}
    )
    assert r.status == 201 and (folder / "000002.png").read_bytes() == sound
    r = await worker.report(got["task_id"], lease=got["lease"], status="completed")
    assert r.status == 409 and "1 of its 2 frames" in r.error  # the black one not counted
    side = os.urandom(300)
    await upload(worker.api, side)
    r = await worker.api.post(
        tasks_frames, {"path": "notes.txt", "sha256": sha(side), "lease": got["lease"]}
    )
    assert r.status == 201 and (folder / "notes.txt").read_bytes() == side


async def test_a_chunked_upload_is_kept_whole(api: Api, manager: Manager) -> None:
    """Transfer-Encoding: chunked (no Content-Length): the end of each HTTP chunk is not
    the end of the body."""
    data = os.urandom(3 * 1024 * 1024 + 5)

    async def pieces() -> Any:
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]
            await asyncio.sleep(0)

    async with api.session.put(
        f"{manager.url}/files/{sha(data)}",
        data=pieces(),
        params={"size": str(len(data)), "offset": "0"},
        headers={"Authorization": f"Bearer {api.token}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["stored"] is True
    stored = manager.data_dir / "files" / "objects" / sha(data)[:2] / sha(data)
    assert stored.read_bytes() == data
