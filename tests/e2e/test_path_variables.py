"""A job written with Windows paths renders on a Linux worker through path variables:
real Blender reads the scene and writes the frames where the variable points."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.blender_scene import make_scene, require_blender
from tests.procs import Farm, wait_until

pytestmark = [pytest.mark.blender, pytest.mark.timeout(240)]


def test_windows_paths_render_on_linux(tmp_path: Path) -> None:
    blender = require_blender()
    storage = tmp_path / "storage"
    (storage / "shots").mkdir(parents=True)
    make_scene(storage / "shots" / "sh010.blend", frames=2)
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        farm.add_worker("render-01", "--blender", blender)
        variables = {"storage": {"linux": str(storage), "windows": "R:\\"}}
        reply = farm.http.request("PUT", "/path-variables", variables)
        assert reply.status == 200 and reply.json() == variables
        settings = {
            "filepath": "R:\\shots\\sh010.blend", "frame_start": 1, "frame_end": 2,
            "render_output": "R:\\out\\sh010_####", "format": "PNG",
        }  # fmt: skip
        job = farm.http.post(
            "/jobs",
            {"name": "win", "type": "blender_render", "settings": settings, "chunk_size": 2},
        )
        # Stored in the variable's form, whichever platform wrote it:
        (task,) = farm.http.job_tasks(job["id"])
        (argv,) = task["commands"]
        assert "{storage}/shots/sh010.blend" in argv and "{storage}/out/sh010_####" in argv
        wait_until(
            lambda: farm.http.get(f"/jobs/{job['id']}")["status"] in ("completed", "failed"),
            150,
            "the render",
        )
        assert farm.http.get(f"/jobs/{job['id']}")["status"] == "completed"
        assert sorted(p.name for p in (storage / "out").iterdir()) == [
            "sh010_0001.png", "sh010_0002.png",
        ]  # fmt: skip
    finally:
        farm.stop()
        farm.dump_logs()


def test_bad_path_variables_are_refused(tmp_path: Path) -> None:
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        for body, says in [
            ({"bad name": {"linux": "/x"}}, "bad name"),
            ({"s": {"amiga": "/x"}}, "amiga"),
            ({"s": {"linux": ""}}, "linux"),
        ]:
            reply = farm.http.request("PUT", "/path-variables", body)
            assert reply.status == 422 and says in reply.json()["error"], reply.text
        assert farm.http.get("/path-variables") == {}
    finally:
        farm.stop()
