"""A full disk: clear 503 answers naming the reason, no crash, recovery when space returns.

Uses a real, tiny tmpfs (needs root, as CI and `make test` run); skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

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


def _fill(path: Path) -> None:
    with path.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


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
