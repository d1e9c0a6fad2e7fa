"""The Blender add-on, installed into real Blender from the .zip the manager writes,
submits the open scene to a test manager; a real worker renders the job."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flamenco_gui.addon import write_addon_zip
from tests.blender_scene import make_scene, make_textured_project, require_blender
from tests.procs import TOKEN, Farm, wait_until

pytestmark = [pytest.mark.blender, pytest.mark.timeout(240)]

SUBMIT = """
import sys, bpy
zip_path, url, token, out, storage = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.preferences.addon_install(filepath=zip_path)
bpy.ops.preferences.addon_enable(module="flamenco_submit")
prefs = bpy.context.preferences.addons["flamenco_submit"].preferences
prefs.manager_url, prefs.token, prefs.chunk_size = url, token, 2
prefs.storage = storage
bpy.context.scene.render.filepath = out
result = bpy.ops.flamenco.submit_job()
print("submit result:", result)
"""


def test_addon_submits_the_open_scene(tmp_path: Path) -> None:
    blender = require_blender()
    scene = make_scene(tmp_path / "shot.blend", frames=4)
    addon = write_addon_zip(tmp_path / "flamenco_submit.zip")
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        farm.add_worker("render-01", "--blender", blender)
        out = tmp_path / "frames" / "f_####"
        # A Blender config dir of its own, so the add-on is not installed for the user.
        env_dir = tmp_path / "blender-config"
        done = subprocess.run(
            [blender, "--background", str(scene), "--python-expr", SUBMIT, "--",
             str(addon), farm.url, TOKEN, str(out), "SHARED"],
            capture_output=True, text=True, timeout=120,
            env={"BLENDER_USER_CONFIG": str(env_dir), "BLENDER_USER_SCRIPTS": str(env_dir),
                 "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )  # fmt: skip
        assert "submit result: {'FINISHED'}" in done.stdout, done.stdout + done.stderr
        (job,) = farm.http.get("/jobs")["jobs"]
        assert job["settings"]["filepath"] == str(scene)
        assert (job["frame_start"], job["frame_end"], job["tasks_total"]) == (1, 4, 2)
        assert job["settings"]["render_output"] == str(out)
        wait_until(
            lambda: farm.http.get(f"/jobs/{job['id']}")["status"] == "completed", 150, "the render"
        )
        frames = sorted(p.name for p in out.parent.iterdir())
        assert frames == ["f_0001.png", "f_0002.png", "f_0003.png", "f_0004.png"]
    finally:
        farm.stop()
        farm.dump_logs()


def test_addon_packs_and_uploads_through_the_manager(tmp_path: Path) -> None:
    """Automatic storage, no path variable: the add-on packs the scene with its
    bundled blender-asset-tracer, uploads it, and the frames land on the manager."""
    blender = require_blender()
    project = tmp_path / "artist"
    scene = make_textured_project(project, 3, (255, 0, 0), (0, 0, 255))
    addon = write_addon_zip(tmp_path / "flamenco_submit.zip")
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        farm.add_worker("render-01", "--blender", blender)
        env_dir = tmp_path / "blender-config"
        done = subprocess.run(
            [blender, "--background", str(scene), "--python-expr", SUBMIT, "--",
             str(addon), farm.url, TOKEN, "//unused_####", "AUTO"],
            capture_output=True, text=True, timeout=120,
            env={"BLENDER_USER_CONFIG": str(env_dir), "BLENDER_USER_SCRIPTS": str(env_dir),
                 "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )  # fmt: skip
        assert "submit result: {'FINISHED'}" in done.stdout, done.stdout + done.stderr
        assert "flamenco: uploaded" in done.stdout
        (job,) = farm.http.get("/jobs")["jobs"]
        assert job["storage"] == "manager" and job["settings"]["filepath"] == "scene.blend"
        assert str(project) not in str(job["settings"])
        wait_until(
            lambda: farm.http.get(f"/jobs/{job['id']}")["status"] == "completed", 150, "the render"
        )
        output = tmp_path / "manager" / "output" / job["name"].replace("/", "_")
        assert sorted(p.name for p in output.iterdir()) == [
            "000001.png", "000002.png", "000003.png",
        ]  # fmt: skip
    finally:
        farm.stop()
        farm.dump_logs()
