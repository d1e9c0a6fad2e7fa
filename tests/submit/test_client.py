"""The submitter's client against a real manager on loopback: files go with sendfile, a
slice at a time (progress per slice), only what the manager lacks, resumed at the
manager's offset."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flamenco_gui.manager import Manager
from flamenco_gui.submit.client import SLICE, ManagerAPI
from flamenco_gui.submit.packing import PackedFile

TOKEN = "farm-token-for-tests"


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[Manager]:
    m = Manager(tmp_path / "data", host="127.0.0.1", port=0, token=TOKEN)
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


def packed(folder: Path, name: str, data: bytes) -> PackedFile:
    path = folder / name
    path.write_bytes(data)
    return PackedFile(name, path, hashlib.sha256(data).hexdigest(), len(data))


def stored(manager: Manager, f: PackedFile) -> Path:
    return manager.data_dir / "files" / "objects" / f.sha256[:2] / f.sha256


async def test_upload_sends_slices_and_only_what_is_missing(
    manager: Manager, tmp_path: Path
) -> None:
    big = packed(tmp_path, "scene.blend", os.urandom(2 * SLICE + 12345))
    small = packed(tmp_path, "tex.png", os.urandom(1000))
    api = ManagerAPI(manager.url, TOKEN)
    reports: list[tuple[str, int]] = []
    try:
        sent = await asyncio.to_thread(
            api.upload, [big, small], lambda f, n: reports.append((f.path, n))
        )
        assert sent == big.size + small.size
        assert [n for p, n in reports if p == "scene.blend"] == [SLICE, SLICE, 12345]
        assert stored(manager, big).read_bytes() == big.source.read_bytes()
        assert stored(manager, small).read_bytes() == small.source.read_bytes()
        again = await asyncio.to_thread(api.upload, [big, small], lambda f, n: None)
        assert again == 0  # the manager has both
    finally:
        api.close()


async def test_upload_resumes_at_the_managers_offset(manager: Manager, tmp_path: Path) -> None:
    data = os.urandom(SLICE + 999)
    f = packed(tmp_path, "scene.blend", data)
    partial = manager.data_dir / "files" / "partial" / f.sha256
    partial.write_bytes(data[:777_777])  # what arrived before a break
    api = ManagerAPI(manager.url, TOKEN)
    resumed: list[int] = []
    try:
        sent = await asyncio.to_thread(
            api.upload, [f], lambda _f, _n: None, lambda _f, offset: resumed.append(offset)
        )
    finally:
        api.close()
    assert resumed == [777_777]
    assert sent == len(data) - 777_777
    assert stored(manager, f).read_bytes() == data
