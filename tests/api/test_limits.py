"""Each limit of docs/limits.md, with a request just under it (served) and just over it
(a 4xx JSON error that names the limit), against the real manager on loopback.

The limits that would take gigabytes to reach at their defaults are lowered for the
test through `LIMITS` (the same object the environment variables fill), so "just under"
is a real, accepted request rather than an expensive one.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from PIL import Image

from flamenco_gui.compilers import get_compiler
from flamenco_gui.farm.compiling import compile_settings, estimate_compiled_bytes
from flamenco_gui.limits import LIMITS, MAX_JSON_DEPTH
from flamenco_gui.manager import Manager
from tests.api.apiclient import Api, blender_settings, job_body, seed_task_body

pytestmark = pytest.mark.timeout(60)
JPEG = {"Content-Type": "image/jpeg"}


def _command_job(arg_bytes: int, frames: int, chunk_size: int = 10) -> dict[str, Any]:
    return job_body(
        "big", frames=(1, frames), chunk_size=chunk_size, argv=["echo", "x" * arg_bytes + "{frame}"]
    )


# -- compiled bytes per job ----------------------------------------------------------


def test_the_estimate_is_never_short_and_close() -> None:
    """The estimate the check uses, against the real expansion (pure compilers)."""
    for body in (_command_job(10_000, 100), job_body("b", frames=(1, 1000), chunk_size=7)):
        settings = body["settings"]
        compiler, model = compile_settings(body["type"], settings)
        chunks = [(s, min(s + body["chunk_size"] - 1, 1000)) for s in range(1, 1001, 7)]
        if settings["frame_end"] == 100:
            chunks = [(s, min(s + 9, 100)) for s in range(1, 101, 10)]
        real = sum(len(json.dumps(compiler.commands(model, s, e))) for s, e in chunks)
        estimate = estimate_compiled_bytes(compiler, model, chunks)
        assert real <= estimate <= real * 1.5, (real, estimate)
    assert get_compiler("blender_render") is not None


async def test_compiled_bytes_just_under_is_served_just_over_is_refused(
    api: Api, limit: Any
) -> None:
    limit("max_compiled_bytes", 1024 * 1024)
    r = await api.post("/jobs", _command_job(10_000, 95))  # about 0.95 MB of commands
    assert r.status == 201, r
    assert r.json["tasks_total"] == 10
    r = await api.post("/jobs", _command_job(10_000, 110))  # about 1.1 MB
    assert r.status == 413, r
    assert "max_compiled_bytes (1048576)" in r.error
    r = await api.get("/jobs")
    assert [j["name"] for j in r.json["jobs"]] == ["big"]  # the refused one left no row


def _rss_tree() -> int:
    me = psutil.Process(os.getpid())
    return sum(p.memory_info().rss for p in [me, *me.children(recursive=True)])


async def test_jobs_that_would_expand_to_gigabytes_are_refused_in_bounded_memory(
    api: Api,
) -> None:
    """The issue's two: a 1 MB argument with {frame} over 100,000 frames (100 GB
    expanded) and 600,000 blender_args (3.6 MB each, for each of 1,000 tasks). The
    manager runs in this process: its RSS (with any children) is sampled throughout."""
    command = _command_job(1_000_000, 100_000, chunk_size=1000)
    blender = {
        "name": "args",
        "type": "blender_render",
        "settings": blender_settings(frame_start=1, frame_end=1000, blender_args=["-x"] * 600_000),
        "priority": 50,
        "chunk_size": 1,
    }
    # Growth, not the total: the test process already holds whatever earlier tests
    # imported (Qt, numpy, OpenImageIO) when the whole suite runs.
    start = peak = _rss_tree()
    for body in (command, blender):
        began = time.monotonic()
        r = await api.post("/jobs", body)
        took = time.monotonic() - began
        peak = max(peak, _rss_tree())
        assert r.status == 413, r
        assert "max_compiled_bytes" in r.error
        print(f"{body['type']}: refused in {took:.2f} s")
    r = await api.post("/tasks", seed_task_body(blender_args=["-x"] * 2000) | {"settings": "x"})
    assert r.status == 422, r
    print(f"RSS of the test's process tree: {start / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB")
    assert peak - start < 200 * 2**20
    r = await api.get("/jobs")
    assert r.json["jobs"] == []


async def test_a_2015_task_is_estimated_too(api: Api, limit: Any) -> None:
    limit("max_compiled_bytes", 4096)
    r = await api.post("/tasks", seed_task_body(blender_args=["-x"] * 100))
    assert r.status == 202, r
    r = await api.post("/tasks", seed_task_body(blender_args=["-x"] * 1000))
    assert r.status == 413, r
    assert "max_compiled_bytes (4096)" in r.error


# -- JSON depth ------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_json_depth_of_a_body(api: Api) -> None:
    # {"name": [[...]]}: the object is one level, the list the rest.
    under = f'{{"name": {_nested(MAX_JSON_DEPTH - 1)}, "type": "command"}}'
    r = await api.post("/jobs", data=under, headers={"Content-Type": "application/json"})
    assert r.status == 422 and "name" in r.error, r  # parsed, then refused by field
    over = f'{{"name": {_nested(5000)}, "type": "command"}}'
    r = await api.post("/jobs", data=over, headers={"Content-Type": "application/json"})
    assert r.status == 413, r
    assert f"max_json_depth ({MAX_JSON_DEPTH})" in r.error


async def test_json_depth_of_the_2015_settings_string(api: Api) -> None:
    """The issue's 500 (RecursionError): settings nested 5,000 deep."""
    deep = '{"filepath": ' + _nested(5000) + "}"
    r = await api.post("/tasks", seed_task_body() | {"settings": deep})
    assert r.status == 413, r
    assert "settings" in r.error and f"max_json_depth ({MAX_JSON_DEPTH})" in r.error
    just_under = '{"filepath": ' + _nested(MAX_JSON_DEPTH - 1) + "}"
    r = await api.post("/tasks", seed_task_body() | {"settings": just_under})
    assert r.status == 422 and "settings.filepath" in r.error, r
    r = await api.get("/tasks")
    assert r.json["total"] == 0


# -- image pixels ------------------------------------------------------------------------


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, "JPEG")
    return out.getvalue()


def _claiming(width: int, height: int) -> bytes:
    """A small JPEG whose header (SOF0) claims another size: a decompression bomb."""
    data = bytearray(_jpeg(8, 8))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


async def test_image_pixels_are_checked_before_decoding(api: Api) -> None:
    await api.job("p", frames=(1, 2), chunk_size=2)
    worker = await api.register("node-a")
    got = await worker.pull()
    path = f"/tasks/{got['task_id']}/preview"
    params = {"frame": 1, "lease": got["lease"]}
    side = int(LIMITS.max_image_pixels**0.5)
    r = await worker.api.post(path, data=_jpeg(side, side), headers=JPEG, params=params)
    assert r.status == 201, r  # exactly at the limit
    for width, height in ((side, side + 1), (65000, 65000)):
        r = await worker.api.post(path, data=_claiming(width, height), headers=JPEG, params=params)
        assert r.status == 413, r
        assert f"max_image_pixels ({LIMITS.max_image_pixels})" in r.error
    assert [p["frame"] for p in (await api.get("/jobs/1/previews")).json] == [1]


# -- log batches ---------------------------------------------------------------------------


async def test_log_batch_lines(api: Api, tmp_path: Path) -> None:
    await api.job("l", frames=(1, 1))
    worker = await api.register("node-a")
    got = await worker.pull()
    path = f"/tasks/{got['task_id']}/log"
    n = LIMITS.max_log_batch_lines
    r = await worker.api.post(path, {"lines": ["a"] * n, "lease": got["lease"]})
    assert r.status == 204, r
    # The manager's attempt header (farm/log_notes.py) came with the first batch.
    header = len((await api.get(path)).raw.split(b"\n", 1)[0]) + 1
    r = await worker.api.post(path, {"lines": ["b"] * (n + 1), "lease": got["lease"]})
    assert r.status == 413, r
    assert f"max_log_batch_lines ({n})" in r.error
    r = await api.get(path)
    # "a\n" each after the header, nothing of the refused batch
    assert r.headers["X-Log-Size"] == str(header + 2 * n)


# -- what does not parse, and credentials that are not text ----------------------------


async def test_malformed_json_is_400(api: Api) -> None:
    r = await api.post("/tasks", data=b'{"priority": 10, "settings": ', headers=JPEG)
    assert r.status == 400, r
    assert "JSON" in r.error


async def raw_request(port: int, request: bytes) -> tuple[int, bytes]:
    """Bytes on a socket, as no well-behaved client library would send them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_a_token_that_is_not_utf8_is_401_json(manager: Manager) -> None:
    """The issue's `Authorization: Bearer \\xff\\xfe` (was a text/plain 500)."""
    status, body = await raw_request(
        manager.port,
        b"GET /workers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status == 401, body
    assert "token" in json.loads(body)["error"]
