"""A full disk: clear 503 answers naming the reason, no crash, recovery when space returns.

Uses a real, tiny tmpfs (needs root, as CI and `make test` run); skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from flamenco_gui.manager import Manager

TOKEN = "disk-full-token"
JOB = {
    "name": "fill",
    "type": "command",
    "settings": {"argv": ["echo", "{frame}"], "frame_start": 1, "frame_end": 200},
    "chunk_size": 1,
}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _noisy_jpeg() -> bytes:
    """A JPEG of a few hundred KB (noise does not compress), so it cannot fit."""
    out = io.BytesIO()
    Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3)).save(out, "JPEG", quality=60)
    assert 300_000 < len(out.getvalue()) <= 512 * 1024
    return out.getvalue()


def _fill(path: Path) -> None:
    with contextlib.suppress(OSError), path.open("wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 65536)


@pytest.mark.timeout(60)
async def test_full_disk_answers_503_and_recovers(small_disk: Path) -> None:
    manager = Manager(small_disk / "data", "127.0.0.1", 0, TOKEN)
    await manager.start()
    base = manager.url
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            async with http.post(f"{base}/jobs", json=JOB) as r:
                assert r.status == 201
            filler = small_disk / "filler"
            _fill(filler)
            statuses = []
            for _ in range(20):  # the WAL may still have room for a few jobs
                async with http.post(f"{base}/jobs", json=JOB) as r:
                    statuses.append(r.status)
                    body = await r.json()
                if r.status == 503:
                    break
            assert statuses[-1] == 503, statuses
            assert "cannot be written" in body["error"] and "full" in body["error"]
            async with http.get(f"{base}/health") as r:
                health = await r.json()
            assert health["status"] == "degraded" and "full" in health["storage_error"]
            async with http.get(f"{base}/jobs") as r:  # reads still work
                assert r.status == 200
                listed = await r.json()
            assert all(j["tasks_total"] == 200 for j in listed["jobs"])  # no half-written job

            filler.unlink()
            async with http.post(f"{base}/jobs", json=JOB) as r:
                assert r.status == 201
            async with http.get(f"{base}/health") as r:
                health = await r.json()
            assert health["status"] == "ok" and health["storage_error"] is None
    finally:
        await manager.stop()


@pytest.mark.timeout(60)
async def test_grouped_worker_reports_on_a_full_disk_answer_503_and_recover(
    small_disk: Path,
) -> None:
    """Worker reports share group commits: when that commit fails, every report in the
    group answers 503 (never a 2xx for a change that is not on disk)."""
    manager = Manager(small_disk / "data", "127.0.0.1", 0, TOKEN)
    await manager.start()
    base = manager.url
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            ids = []
            for i in range(4):
                body = {"hostname": f"full-{i}", "system": "Linux"}
                async with http.post(f"{base}/workers", json=body) as r:
                    assert r.status == 200
                    ids.append((await r.json())[f"full-{i}"]["id"])
            report = {
                "status": "available",
                "update_frequent": {
                    "load_average": {"1min": 0.1, "5min": 0.1, "15min": 0.1},
                    "worker_cpu_percent": 1.0,
                },
            }

            async def reports() -> list[int]:
                async def one(worker_id: int) -> int:
                    async with http.patch(f"{base}/workers/{worker_id}", json=report) as r:
                        await r.read()
                        return r.status

                return list(await asyncio.gather(*(one(w) for w in ids)))

            filler = small_disk / "filler"
            _fill(filler)
            seen: list[list[int]] = []
            for _ in range(200):  # the WAL may still have room for a few groups
                statuses = await reports()
                seen.append(statuses)
                if 503 in statuses:
                    break
            assert 503 in seen[-1], seen[-3:]
            assert set(seen[-1]) <= {200, 503}, seen[-1]
            filler.unlink()
            assert await reports() == [200] * len(ids)
    finally:
        await manager.stop()


@pytest.mark.timeout(60)
async def test_a_refused_log_batch_leaves_the_log_byte_identical_and_lands_once(
    small_disk: Path,
) -> None:
    """The issue's half-done appends: a 420 KB batch on a full disk kept 133 of its
    2,000 lines, and its retry put the first line in three times. Now: refused whole,
    the log byte for byte as before; once space returns the retried batch (same seq)
    lands, and a second retry of it (its answer lost) adds nothing."""
    manager = Manager(small_disk / "data", "127.0.0.1", 0, TOKEN)
    await manager.start()
    base = manager.url
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            one = {**JOB, "settings": {**JOB["settings"], "frame_end": 1}}  # type: ignore[dict-item]
            async with http.post(f"{base}/jobs", json=one) as r:
                assert r.status == 201
            async with http.post(f"{base}/workers", json={"hostname": "w"}) as r:
                secret = (await r.json())["w"]["secret"]
            worker = {"Authorization": f"Bearer {secret}"}
            async with http.get(f"{base}/workers") as r:
                worker_id = (await r.json())["w"]["id"]
            async with http.patch(
                f"{base}/workers/{worker_id}", json={"status": "available"}, headers=worker
            ) as r:
                got = await r.json()
            log_url = f"{base}/tasks/{got['task_id']}/log"

            async def append(seq: int, lines: list[str]) -> int:
                body = {"lines": lines, "lease": got["lease"], "seq": seq}
                async with http.post(log_url, json=body, headers=worker) as r:
                    await r.read()
                    return r.status

            async def log_bytes() -> bytes:
                async with http.get(log_url) as r:
                    return await r.read()

            assert await append(1, ["first line"]) == 204
            before = await log_bytes()
            big = [f"{i:05d} " + "x" * 200 for i in range(2000)]  # about 420 KB
            filler = small_disk / "filler"
            _fill(filler)
            for seq in (2, 2, 2):  # the worker retrying while the disk is full
                assert await append(seq, big) == 503
                assert await log_bytes() == before
            # A preview refused for want of space leaves no temp file behind either.
            async with http.post(
                f"{base}/tasks/{got['task_id']}/preview",
                data=_noisy_jpeg(),
                params={"frame": 1, "lease": got["lease"]},
                headers={**worker, "Content-Type": "image/jpeg"},
            ) as r:
                assert r.status == 503, await r.text()
            assert not list((small_disk / "data").rglob("*.tmp"))
            filler.unlink()
            assert await append(2, big) == 204
            assert await append(2, big) == 204  # its answer was lost: sent again
            assert await append(2, [*big, "one more"]) == 204  # the outbox added a line
            header, *after = (await log_bytes()).decode().splitlines()
            assert header.startswith("[manager ")  # the attempt's header (log_notes.py)
            assert after == ["first line", *big, "one more"]
    finally:
        await manager.stop()
