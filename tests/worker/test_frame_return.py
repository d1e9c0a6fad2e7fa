"""A frame's upload cut by a manager restart resumes where it stopped, and the frame
lands in the job's output folder; only then is the worker's copy deleted. Real manager
(in-process, on loopback, stopped and started again on its port), real worker client."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from flamenco_gui.farm.service import FarmConfig
from flamenco_gui.manager import Manager
from flamenco_gui.worker.frame_return import FrameReturn
from tests.worker.manager_job import pull_as_worker, sha, submit_one_frame_job

TOKEN = "test-farm-token-frames-0123456789"


@pytest.mark.timeout(120)
async def test_a_frame_upload_resumes_after_a_manager_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "flamenco_gui.worker.frame_return")
    data_dir = tmp_path / "data"
    manager = Manager(data_dir, "127.0.0.1", 0, TOKEN, config=FarmConfig(worker_timeout=120))
    await manager.start()
    port = manager.port
    job = await submit_one_frame_job(manager, "sh020")
    folder = tmp_path / "work" / "tasks" / "1"
    folder.mkdir(parents=True)
    frame = folder / "000001.png"
    # A real PNG of noise (the manager checks the frame that came back), stored
    # uncompressed: 64 MB, long enough an upload to cut.
    side = 4096
    noise = Image.frombytes("RGB", (side, side * 16 // 3), os.urandom(side * side * 16))
    noise.save(frame, "PNG", compress_level=0)
    pixels = frame.read_bytes()
    partial = data_dir / "files" / "partial" / sha(pixels)

    try:
        async with aiohttp.ClientSession() as session:
            client, task_id, lease = await pull_as_worker(
                session, manager, TOKEN, tmp_path / "work", "render-01"
            )
            sending = asyncio.create_task(
                FrameReturn(client).send(task_id, lease, folder, ["000001.png"])
            )
            while not (partial.exists() and partial.stat().st_size > 0):
                assert not sending.done(), sending
                await asyncio.sleep(0.001)
            await manager.stop()  # cuts the upload; what arrived stays
            held = partial.stat().st_size
            assert 0 < held < len(pixels)
            manager = Manager(data_dir, "127.0.0.1", port, TOKEN, config=FarmConfig())
            await manager.start()
            placed = await asyncio.wait_for(sending, 60)
    finally:
        await manager.stop()
    target = data_dir / "output" / "sh020" / "000001.png"
    assert placed == [str(target)] and sha(target.read_bytes()) == sha(pixels)
    assert not frame.exists()  # deleted once the manager confirmed it
    assert "upload broke off" in caplog.text and job["storage"] == "manager"
