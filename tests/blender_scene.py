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


# Runs inside Blender. Arguments after "--": what to build ("lib" or "main"), the .blend
# to save, the texture to use, and for "main" the library to link and the frame count.
# An orthographic camera looks down at two 2x2 planes side by side, each showing its
# texture through an emission shader (no lights: a pixel is the texture's colour, with
# the Standard view transform). The left plane is the scene's own; the right one is
# linked from the library, whose material has the second texture.
_TEXTURED_SCRIPT = """
import sys
import bpy

what, path, texture, *rest = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene

def textured_plane(name, x):
    bpy.ops.mesh.primitive_plane_add(size=2.0, location=(x, 0.0, 0.0))
    obj = bpy.context.active_object
    obj.name = name
    mat = bpy.data.materials.new(name + "Mat")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    image = nodes.new("ShaderNodeTexImage")
    image.image = bpy.data.images.load(texture)
    image.interpolation = "Closest"
    emit = nodes.new("ShaderNodeEmission")
    out = nodes.new("ShaderNodeOutputMaterial")
    links.new(image.outputs["Color"], emit.inputs["Color"])
    links.new(emit.outputs["Emission"], out.inputs["Surface"])
    obj.data.materials.append(mat)
    return obj

if what == "lib":
    textured_plane("Prop", 1.0)
else:
    library, frames = rest
    textured_plane("Base", -1.0)
    with bpy.data.libraries.load(library, link=True, relative=True) as (src, dst):
        dst.objects = ["Prop"]
    for obj in dst.objects:
        scene.collection.objects.link(obj)
    cam_data = bpy.data.cameras.new("Cam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = 4.0
    cam = bpy.data.objects.new("Cam", cam_data)
    cam.location = (0.0, 0.0, 5.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 1
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = False
    scene.render.filter_size = 0.01
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.render.resolution_x = 32
    scene.render.resolution_y = 16
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.frame_start = 1
    scene.frame_end = int(frames)
bpy.ops.wm.save_as_mainfile(filepath=path, relative_remap=True)
"""


def _run_in_blender(script: str, *args: str) -> None:
    argv = [require_blender(), "--background", "--factory-startup", "--python-expr", script]
    done = subprocess.run(
        [*argv, "--", *args], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0 or "Error" in done.stderr:
        raise RuntimeError(f"Blender could not build the test scene:\n{done.stdout}{done.stderr}")


def solid_png(path: Path, rgb: tuple[int, int, int]) -> Path:
    """An 8x8 texture of one colour."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), rgb).save(path)
    return path


def make_textured_project(root: Path, frames: int, left: tuple[int, int, int],
                          right: tuple[int, int, int]) -> Path:  # fmt: skip
    """A project folder as an artist has it: `scene.blend` shows `textures/left.png`
    on the left half of its 32x16 frames, and links `lib/props.blend`, whose plane
    shows `textures/right.png` on the right half. Returns the scene's path."""
    left_png = solid_png(root / "textures" / "left.png", left)
    right_png = solid_png(root / "textures" / "right.png", right)
    lib = root / "lib" / "props.blend"
    lib.parent.mkdir(parents=True, exist_ok=True)
    _run_in_blender(_TEXTURED_SCRIPT, "lib", str(lib), str(right_png))
    scene = root / "scene.blend"
    _run_in_blender(_TEXTURED_SCRIPT, "main", str(scene), str(left_png), str(lib), str(frames))
    return scene


def resave_scene(blend: Path, samples: int) -> None:
    """The artist saves the scene again with another sample count (new bytes)."""
    script = (
        f"import bpy; bpy.context.scene.cycles.samples = {int(samples)}; bpy.ops.wm.save_mainfile()"
    )
    done = subprocess.run(
        [require_blender(), "--background", str(blend), "--python-expr", script],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"Blender could not save {blend}:\n{done.stdout}{done.stderr}")
