"""Output parsers, fed from output Blender really printed in this test session."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from flamenco_gui.parsers import Parser, get_parser
from flamenco_gui.parsers.blender_render import parse_duration, parse_line
from tests.blender_scene import make_scene, render_argv, require_blender

pytestmark = pytest.mark.blender


@dataclass(frozen=True)
class Render:
    lines: list[str]
    returncode: int
    files: list[Path]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # stderr into stdout, as the worker's runner reads it.
    return subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="session")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Frames 1-3 of a generated scene, rendered once for all tests here."""
    root = tmp_path_factory.mktemp("blender")
    blend = make_scene(root / "scene.blend", frames=3)
    done = _run(render_argv(blend, str(root / "out" / "######"), 1, 3))
    return Render(done.stdout.splitlines(), done.returncode, sorted((root / "out").glob("*.png")))


def _feed(lines: list[str]) -> Parser:
    parser = get_parser("blender_render")
    for line in lines:
        parser.feed(line)
    return parser


def test_real_render_reports_frames_and_saved_files(render: Render) -> None:
    assert render.returncode == 0, "\n".join(render.lines)
    parser = get_parser("blender_render")
    frames = []
    for line in render.lines:
        report = parser.feed(line)
        if report is not None and report.frame is not None and report.frame not in frames:
            frames.append(report.frame)
    assert frames == [1, 2, 3]
    assert parser.frame_current == 3
    assert [Path(p) for p in parser.saved] == render.files
    assert len(render.files) == 3
    # The cube moves: frames are different images (the scene really is animated).
    assert len({f.read_bytes() for f in render.files}) == 3
    assert not parser.failed and parser.error is None


def test_real_render_activity_and_remaining(render: Render) -> None:
    reports = [r for r in map(parse_line, render.lines) if r is not None]
    activities = {r.activity for r in reports if r.frame is not None}
    assert "Sample 4/4" in activities
    assert "Finished" in activities
    remaining = [r.remaining for r in reports if r.remaining is not None]
    assert remaining, "Cycles prints Remaining: on its first sample"
    assert all(0 <= seconds < 60 for seconds in remaining)


def test_real_render_progress_counts_finished_frames(render: Render) -> None:
    parser = get_parser("blender_render")
    seen = []
    for line in render.lines:
        parser.feed(line)
        progress = parser.progress(1, 3)
        if progress is not None and (not seen or seen[-1] != progress):
            seen.append(progress)
    # 0 % while frame 1 renders; each Saved: adds a third; 100 % only at the end.
    assert seen == [0.0, 33.3, 66.7, 100.0]
    assert parser.progress(1, 6) == 50.0  # the same output as half of a longer task


def test_missing_blend_is_an_error(tmp_path: Path) -> None:
    require_blender()
    done = _run(render_argv(tmp_path / "missing.blend", str(tmp_path / "######"), 1, 1))
    parser = _feed(done.stdout.splitlines())
    assert parser.failed
    assert "Cannot read file" in parser.error
    assert "missing.blend" in parser.error


def test_error_counts_even_when_blender_exits_zero() -> None:
    blender = require_blender()
    argv = [blender, "--background", "--factory-startup", "--python-expr", "raise ValueError('x')"]
    done = _run(argv)
    assert done.returncode == 0  # Blender's own verdict is "fine"...
    parser = _feed(done.stdout.splitlines())
    assert parser.failed  # ...the parser's is not.
    assert parser.error.startswith("Error: Python: Traceback")


# -- edge lines, hand-written ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("Saved: '/out/frame 0001.png'", "/out/frame 0001.png"),
        ('Saved: "/out/0002.exr"', "/out/0002.exr"),
        ("Saved: /out/0003.png", "/out/0003.png"),
        # Blender 2.7x: unquoted, with the timing on the same line.
        ("Saved: /out/my shot/0004.png Time: 00:00.56 (Saving: 00:00.02)", "/out/my shot/0004.png"),
    ],
)
def test_saved_quoted_or_not(line: str, path: str) -> None:
    report = parse_line(line)
    assert report is not None and report.saved == path and report.frame_done


def test_error_lines() -> None:
    report = parse_line("Error: Cannot read file '/x.blend': No such file or directory")
    assert report is not None
    assert report.error == "Error: Cannot read file '/x.blend': No such file or directory"
    # A leak report printed after successful renders by Blender 2.8x/2.9x.
    assert parse_line("Error: Not freed memory blocks: 2, total unfreed memory 0.0002 MB") is None
    assert parse_line("Warning: something odd") is None


def test_status_line_fields() -> None:
    line = (
        "Fra:12 Mem:120.5M (Peak 130.1M) | Time:01:02:03.45 | Remaining:01:00:01.50 "
        "| Mem:10M, Peak:12M | Scene, ViewLayer | Rendered 12/40 Tiles, Sample 3/64"
    )
    report = parse_line(line)
    assert report is not None
    assert report.frame == 12
    assert report.remaining == 3601.5
    assert report.activity == "Rendered 12/40 Tiles, Sample 3/64"
    eevee = parse_line("Fra:3 Mem:50M (Peak 60M) | Time:00:00.25 | Rendering 1 / 64 samples")
    assert eevee is not None and eevee.activity == "Rendering 1 / 64 samples"


def test_movie_frames_count_as_done() -> None:
    parser = get_parser("blender_render")
    for line in ["Fra:5 Mem:1M | Time:00:00.01 | Finished", "Append frame 5"]:
        parser.feed(line)
    assert parser.frames_done == {5}
    assert parser.progress(5, 6) == 50.0


def test_parse_duration() -> None:
    assert parse_duration("00:01.50") == 1.5
    assert parse_duration("02:00:00.00") == 7200.0


def test_progress_unknown_without_range_or_output() -> None:
    parser = get_parser("blender_render")
    assert parser.progress(1, 10) is None
    parser.feed("Fra:1 Mem:1M | Time:00:00.01 | Sample 1/4")
    assert parser.progress(None, None) is None
    assert parser.progress(1, 10) == 0.0


def test_generic_reports_activity_never_failure() -> None:
    parser = get_parser("generic")
    for line in ["starting", "Error: this is just a word in the output", "  ", "done\r\n"]:
        parser.feed(line)
    assert parser.activity == "done"
    assert not parser.failed
    assert parser.progress(1, 10) is None


def test_parsers_have_their_own_state() -> None:
    first = get_parser("blender_render")
    first.feed("Error: boom")
    assert not get_parser("blender_render").failed


def test_unknown_parser_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="blender_render, generic"):
        get_parser("blender_rneder")


def test_blender_memory_peak_and_frame_time() -> None:
    status = parse_line(
        "Fra:2 Mem:9.94M (Peak 10.83M) | Time:00:00.00 | Mem:0.77M, Peak:0.77M | Scene | Sample 4/4"
    )
    assert status is not None and status.peak_memory_mb == pytest.approx(10.83)
    big = parse_line("Fra:2 Mem:1.5G (Peak 2.5G) | Time:00:10.00 | Rendering")
    assert big is not None and big.peak_memory_mb == pytest.approx(2560)
    after = parse_line(" Time: 01:02.39 (Saving: 00:00.32)")
    assert after is not None and after.render_seconds == pytest.approx(62.39)
    old = parse_line("Saved: /out/0004.png Time: 00:00.56 (Saving: 00:00.02)")
    assert old is not None and old.saved == "/out/0004.png"
    assert old.render_seconds == pytest.approx(0.56)
