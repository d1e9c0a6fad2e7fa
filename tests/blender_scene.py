"""Real Blender for tests: find it, and let it build tiny scenes to render.

Tests that need Blender skip without it, except where CI says it must be there
(`FLAMENCO_REQUIRE_BLENDER=1`): then a missing Blender fails loudly instead of
silently skipping the tests that matter most.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REQUIRE_ENV = "FLAMENCO_REQUIRE_BLENDER"

# Runs inside Blender. Arguments after "--": output path, frame count, samples.
# Cycles with few samples, no denoising (slow, and needs OIDN) and a tiny image keeps
# a frame well under a second; the cube moves so every frame is a different image.
_SCENE_SCRIPT = """
import sys
import bpy

path, frames, samples = sys.argv[sys.argv.index("--") + 1:]
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = int(samples)
scene.cycles.use_adaptive_sampling = False
scene.cycles.use_denoising = False
for layer in scene.view_layers:
    layer.cycles.use_denoising = False
scene.render.resolution_x = 32
scene.render.resolution_y = 24
scene.render.resolution_percentage = 100
scene.render.image_settings.file_format = "PNG"
scene.frame_start = 1
scene.frame_end = int(frames)
cube = bpy.data.objects["Cube"]
cube.location = (-2.0, 0.0, 0.0)
cube.keyframe_insert("location", frame=1)
cube.location = (2.0, 0.0, 0.0)
cube.keyframe_insert("location", frame=int(frames))
bpy.ops.wm.save_as_mainfile(filepath=path)
"""


def require_blender() -> str:
    """Blender's path; skips the test without it (fails under FLAMENCO_REQUIRE_BLENDER=1)."""
    path = shutil.which("blender")
    if path is not None:
        return path
    message = "Blender is not installed (Debian: apt-get install blender)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(message)


def make_scene(path: Path, frames: int, samples: int = 4) -> Path:
    """Save a `frames`-long animated scene at `path`, built by Blender's factory startup."""
    argv = [
        require_blender(),
        "--background",
        "--factory-startup",
        "--python-expr",
        _SCENE_SCRIPT,
        "--",
        str(path),
        str(frames),
        str(samples),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not path.exists():
        raise RuntimeError(f"Blender could not build the test scene:\n{done.stdout}{done.stderr}")
    return path


def render_argv(blend: Path, output: str, frame_start: int, frame_end: int) -> list[str]:
    """The command the blender_render compiler builds (with the real Blender path)."""
    return [
        require_blender(),
        "--background",
        str(blend),
        "--render-output",
        output,
        "--render-format",
        "PNG",
        "--frame-start",
        str(frame_start),
        "--frame-end",
        str(frame_end),
        "--render-anim",
    ]
