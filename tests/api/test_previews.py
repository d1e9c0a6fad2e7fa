"""Frame previews over the API: only a small real JPEG from the leasing worker is kept,
only the newest few per job, and they can be listed and fetched."""

from __future__ import annotations

import io

from PIL import Image

from flamenco_gui.store.previews import KEEP_PER_JOB
from tests.api.apiclient import Api

JPEG = {"Content-Type": "image/jpeg"}


def _jpeg(side: int = 64, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), color).save(out, "JPEG")
    return out.getvalue()


def _wide(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "blue").save(out, "JPEG")
    return out.getvalue()


async def test_previews_from_the_leasing_worker_are_kept(api: Api) -> None:
    job = await api.job("p", frames=(1, 20), chunk_size=20)
    worker = await api.register("node-a")
    got = await worker.pull()
    task_id, lease = got["task_id"], got["lease"]
    for frame in range(1, 16):
        r = await worker.api.post(
            f"/tasks/{task_id}/preview", data=_jpeg(), headers=JPEG,
            params={"frame": frame, "lease": lease},
        )  # fmt: skip
        assert r.status == 201, r
    r = await api.get(f"/jobs/{job['id']}/previews")
    frames = [p["frame"] for p in r.json]
    assert frames == list(range(16 - KEEP_PER_JOB, 16))  # the newest few, oldest first
    r = await api.get(f"/jobs/{job['id']}/preview")
    assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.raw)).size == (64, 64)
    r = await api.get(f"/jobs/{job['id']}/preview", params={"frame": 1})
    assert r.status == 404 and "frame 1" in r.error


async def test_bad_previews_are_refused(api: Api) -> None:
    await api.job("p", frames=(1, 2), chunk_size=2)
    owner = await api.register("node-a")
    other = await api.register("node-b")
    got = await owner.pull()
    path = f"/tasks/{got['task_id']}/preview"
    params = {"frame": 1, "lease": got["lease"]}
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    cases = [
        (owner.api, b"not an image", params, 422, "readable"),
        (owner.api, png.getvalue(), params, 422, "JPEG"),
        (owner.api, _jpeg(side=2000), params, 413, "max_image_pixels"),
        (owner.api, _wide(1100, 8), params, 422, "1024 px a side"),
        (owner.api, _jpeg(), {"lease": got["lease"]}, 422, "frame"),
        (other.api, _jpeg(), params, 409, "not leased"),
        (owner.api, _jpeg(), {"frame": 1, "lease": got["lease"] + 1}, 409, "not leased"),
    ]
    for caller, data, query, status, says in cases:
        r = await caller.post(path, data=data, headers=JPEG, params=query)
        assert r.status == status and says in r.error, (says, r)
