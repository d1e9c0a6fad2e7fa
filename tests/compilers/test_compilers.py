"""Compilers: validated settings in, argv lists out."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flamenco_gui.compilers import chunk_frames, get_compiler

BLEND = {
    "filepath": "/p/shot.blend",
    "frame_start": 5,
    "frame_end": 10,
    "render_output": "/r/####",
    "format": "PNG",
}


def test_chunks_cover_the_range_exactly() -> None:
    assert chunk_frames(1, 10, 3) == [(1, 3), (4, 6), (7, 9), (10, 10)]
    assert chunk_frames(5, 5, 100) == [(5, 5)]


def test_blender_argv_is_the_documented_command() -> None:
    c = get_compiler("blender_render")
    assert c is not None
    model = c.settings_model.model_validate(BLEND)
    assert c.commands(model, 5, 7) == [
        [
            "blender",
            "--background",
            "/p/shot.blend",
            "--render-output",
            "/r/####",
            "--render-format",
            "PNG",
            "--frame-start",
            "5",
            "--frame-end",
            "7",
            "--render-anim",
        ]
    ]
    assert get_compiler("simple_blender_render") is not None


def test_blender_overrides_become_a_generated_expression() -> None:
    c = get_compiler("blender_render")
    assert c is not None
    model = c.settings_model.model_validate(
        BLEND | {"engine": "CYCLES", "samples": 4, "denoise": False, "resolution_x": 32}
    )
    (argv,) = c.commands(model, 5, 5)
    assert argv[argv.index("--engine") + 1] == "CYCLES"
    expr = argv[argv.index("--python-expr") + 1]
    assert "scn.cycles.samples = 4" in expr and "use_denoising = False" in expr
    # Overrides come before the render starts.
    assert argv.index("--python-expr") < argv.index("--render-anim")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"frame_end": 1}, "frame_end"),
        ({"format": "GIF"}, "format"),
        ({"samples": "many"}, "samples"),
        ({"filepath": ""}, "filepath"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_bad_blender_settings_name_the_field(change: dict, field: str) -> None:
    c = get_compiler("blender_render")
    assert c is not None
    with pytest.raises(ValidationError) as exc:
        c.settings_model.model_validate(BLEND | change)
    assert field in str(exc.value)


def test_command_fills_in_each_frame() -> None:
    c = get_compiler("command")
    assert c is not None
    model = c.settings_model.model_validate(
        {"argv": ["echo", "f={frame}"], "frame_start": 1, "frame_end": 3}
    )
    assert c.commands(model, 2, 3) == [["echo", "f=2"], ["echo", "f=3"]]
    once = c.settings_model.model_validate({"argv": ["true"]})
    assert c.commands(once, 1, 1) == [["true"]]


def test_unknown_compiler() -> None:
    assert get_compiler("maya_render") is None


def test_frame_patterns_follow_blender_naming() -> None:
    from flamenco_gui.compilers.frames import blender_frame_files, hashes_to_printf

    assert blender_frame_files("/r/f_####", "PNG") == "/r/f_%04d.png"
    assert blender_frame_files("/r/##/f_######", "JPEG") == "/r/##/f_%06d.jpg"
    assert blender_frame_files("/r/f_", "OPEN_EXR") == "/r/f_%04d.exr"
    assert hashes_to_printf("/r/f_###.png") == "/r/f_%03d.png"


def test_ffmpeg_is_one_task_reading_the_whole_range() -> None:
    c = get_compiler("ffmpeg")
    assert c is not None and not c.chunked
    model = c.settings_model.model_validate(
        {
            "input": "/r/f_####.png",
            "output": "/r/v.mp4",
            "frame_start": 3,
            "frame_end": 9,
            "fps": 25,
        }
    )
    (argv,) = c.commands(model, 3, 9)
    assert argv[0] == "ffmpeg" and argv[-1] == "/r/v.mp4"
    assert argv[argv.index("-i") + 1] == "/r/f_%04d.png"
    assert argv[argv.index("-start_number") + 1] == "3"
    assert argv[argv.index("-frames:v") + 1] == "7"
    with pytest.raises(ValidationError, match="input"):
        c.settings_model.model_validate({"input": "/r/f.png", "output": "/r/v.mp4"})


def test_blender_video_step_waits_for_the_frames() -> None:
    c = get_compiler("blender_render")
    assert c is not None
    assert c.finishing_tasks(c.settings_model.model_validate(BLEND)) == []
    model = c.settings_model.model_validate(BLEND | {"video": {"output": "/r/shot.mp4", "fps": 12}})
    (video,) = c.finishing_tasks(model)
    assert video.type == "ffmpeg" and (video.frame_start, video.frame_end) == (5, 10)
    (argv,) = video.commands
    assert argv[argv.index("-i") + 1] == "/r/%04d.png" and argv[-1] == "/r/shot.mp4"
