"""The Blender add-on, installed into real Blender from the .zip the manager writes,
submits the open scene to a test manager; a real worker renders the job."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

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


# Blender with its UI (under Xvfb): a timer clicks "Submit" in a real window, as a user
# would, and keeps ticking on Blender's main thread while the submission runs.
SUBMIT_IN_THE_UI = """
import sys, threading, time, bpy
zip_path, url, token = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.preferences.addon_install(filepath=zip_path)
bpy.ops.preferences.addon_enable(module="flamenco_submit")
prefs = bpy.context.preferences.addons["flamenco_submit"].preferences
prefs.manager_url, prefs.token, prefs.storage = url, token, "MANAGER"
addon = sys.modules["flamenco_submit"]
main_thread = threading.get_ident()
ticks, statuses = [], []

def click():
    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window, screen=window.screen):
        result = bpy.ops.flamenco.submit_job()
    print("submit result:", result, "answered at return:", addon._running.answer is not None)
    bpy.app.timers.register(watch)

def watch():
    submission = addon._running
    if submission.is_alive():
        ticks.append(time.monotonic())
        if submission.status not in statuses:
            statuses.append(submission.status)
        return 0.01
    if not ticks or ticks[-1] != -1:  # let the operator's modal take its last timer
        ticks.append(-1)
        return 0.5
    print("ran on the main thread:", submission.thread_id == main_thread)
    print("main-thread ticks during the submission:", len(ticks) - 1)
    print("statuses:", statuses)
    print("error:", submission.error, "answer:", submission.answer and submission.answer["id"])
    sys.stdout.flush()
    bpy.ops.wm.quit_blender()

bpy.app.timers.register(click, first_interval=1.0)
"""


def test_addon_uploads_off_blenders_ui_thread(tmp_path: Path) -> None:
    """The operator returns RUNNING_MODAL at once; the pack and upload run on a thread
    while Blender's main thread keeps running its timers; the job then exists."""
    blender = require_blender()
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (Debian: apt-get install xvfb xauth)")
    project = tmp_path / "artist"
    scene = make_textured_project(project, 3, (255, 0, 0), (0, 0, 255))
    # textures big enough that their upload takes a while: 2 x 100 MB of noise, raw
    refs = []
    for name in ("left.png", "right.png"):
        noise = Image.frombytes("RGB", (4096, 8192), os.urandom(4096 * 8192 * 3))
        noise.save(project / "textures" / name, "PNG", compress_level=0)
        data = (project / "textures" / name).read_bytes()
        refs.append({"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    addon = write_addon_zip(tmp_path / "flamenco_submit.zip")
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        env_dir = tmp_path / "blender-config"
        done = subprocess.run(
            ["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", blender, "--factory-startup",
             str(scene), "--python-expr", SUBMIT_IN_THE_UI, "--", str(addon), farm.url, TOKEN],
            capture_output=True, text=True, timeout=180,
            env={"BLENDER_USER_CONFIG": str(env_dir), "BLENDER_USER_SCRIPTS": str(env_dir),
                 "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )  # fmt: skip
        out = done.stdout + done.stderr
        assert "submit result: {'RUNNING_MODAL'} answered at return: False" in out, out
        assert "ran on the main thread: False" in out, out
        ticks = int(out.split("main-thread ticks during the submission: ")[1].split()[0])
        # Blender's main thread ran its timers while the thread packed and uploaded (a
        # blocking upload allows none). Not many: Blender's loop, idle under Xvfb, wakes
        # every ~0.7 s for a Python timer (a thread that only sleeps gets 2 in 1.5 s).
        assert ticks >= 1, out
        assert "error: None" in out and "flamenco: submitted job" in out, out
        (job,) = farm.http.get("/jobs")["jobs"]
        assert job["storage"] == "manager"
        assert farm.http.post("/files/check", {"files": refs})["missing"] == []  # uploaded
    finally:
        farm.stop()
        farm.dump_logs()


def test_a_refused_submission_is_reported(tmp_path: Path) -> None:
    """The thread's error (the manager refuses the token) ends in the operator's report."""
    blender = require_blender()
    scene = make_scene(tmp_path / "shot.blend", frames=2)
    addon = write_addon_zip(tmp_path / "flamenco_submit.zip")
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        env_dir = tmp_path / "blender-config"
        done = subprocess.run(
            [blender, "--background", str(scene), "--python-expr", SUBMIT, "--",
             str(addon), farm.url, "not-the-farm-token", "//f_####", "MANAGER"],
            capture_output=True, text=True, timeout=120,
            env={"BLENDER_USER_CONFIG": str(env_dir), "BLENDER_USER_SCRIPTS": str(env_dir),
                 "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )  # fmt: skip
        out = done.stdout + done.stderr
        # an operator's ERROR report: in --background, bpy.ops raises it
        assert "Error: Flamenco: the manager refused the job: 401" in out, out
        assert "submit result:" not in out, out
        assert farm.http.get("/jobs")["jobs"] == []
    finally:
        farm.stop()
        farm.dump_logs()
