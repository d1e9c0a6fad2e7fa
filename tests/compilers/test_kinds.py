"""What a task's commands take to run: read from the argv, never from the claimed type."""

from __future__ import annotations

import pytest

from flamenco_gui.compilers.blender_render import BlenderRender, BlenderRenderSettings
from flamenco_gui.compilers.kinds import job_kinds, refusal, task_kind, waiting_reason


def _blender(**over: object) -> list[list[str]]:
    s = BlenderRenderSettings.model_validate(
        {"filepath": "/s.blend", "render_output": "/r/f_####", "frame_start": 1,
         "frame_end": 2, **over}
    )  # fmt: skip
    return BlenderRender().commands(s, 1, 2)


def test_the_compilers_own_overrides_are_a_plain_render() -> None:
    assert task_kind(_blender(samples=64, resolution_x=1920, denoise=True)) == "blender_render"


@pytest.mark.parametrize(
    "args",
    [
        ["--python-expr", "import os; os.system('x')"],
        ["--python", "/tmp/evil.py"],
        ["-P", "/tmp/evil.py"],
        ["--python-text", "Text"],
        ["--python-console"],
        ["-y"],
        ["--enable-autoexec"],
        ["--python-expr=import os"],
    ],
)
def test_python_of_the_submitters_choosing_is_blender_python(args: list[str]) -> None:
    assert task_kind(_blender(blender_args=args)) == "blender_python"
    assert job_kinds("blender_render", {"blender_args": args}) == {"blender_python"}
    why = refusal(_blender(blender_args=args), ("blender_render", "ffmpeg"))
    assert why is not None and "--allow-blender-python" in why


def test_an_override_lookalike_with_code_in_it_is_not_an_override() -> None:
    sneaky = "import bpy; scn = bpy.context.scene; scn.cycles.samples = 1; __import__('os')"
    assert task_kind([["blender", "-b", "f", "--python-expr", sneaky]]) == "blender_python"


def test_the_program_decides_not_the_type() -> None:
    assert task_kind([["sh", "-c", "rm -rf /"]]) == "command"
    assert task_kind([["ffmpeg", "-i", "x"], ["sh"]]) == "command"  # the strongest counts
    assert task_kind([["ffmpeg", "-i", "x"]]) == "ffmpeg"
    assert refusal([["sh"]], ("blender_render", "ffmpeg", "command")) is None
    assert "does not accept command" in (refusal([["sh"]], ("ffmpeg",)) or "")


def test_a_job_says_which_kind_nobody_accepts() -> None:
    video = {"video": {"output": "/r/v.mp4"}}
    assert job_kinds("blender_render", video) == {"blender_render", "ffmpeg"}
    assert job_kinds("command", {"argv": ["blender", "-b"]}) == {"blender_render"}
    assert waiting_reason({"command"}, {"blender_render", "ffmpeg"}) == (
        "no worker accepts command jobs"
    )
    assert waiting_reason({"command"}, None) is None  # a 2015 worker takes anything
    assert waiting_reason({"ffmpeg"}, {"ffmpeg"}) is None
