"""`ffmpeg`: a video from a frame sequence, in one task."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from flamenco_gui.compilers.base import CompilerSettings, TaskSpec
from flamenco_gui.compilers.frames import hashes_to_printf


class FfmpegSettings(CompilerSettings):
    input: str = Field(min_length=1, description="frame files, #### is the frame: /r/f_####.png")
    output: str = Field(min_length=1, description="the video file, e.g. /r/shot.mp4")
    fps: float = Field(default=24, gt=0, le=240)
    codec: Literal["libx264", "mpeg4"] = "libx264"
    crf: int = Field(default=20, ge=0, le=51, description="quality (libx264): lower is better")

    @model_validator(mode="after")
    def _check(self) -> FfmpegSettings:
        if self.frame_end < self.frame_start:
            raise ValueError("frame_end must not be before frame_start")
        if "#" not in self.input:
            raise ValueError("input must mark the frame number with #, e.g. f_####.png")
        return self


def video_argv(
    input_printf: str, output: str, start: int, end: int, fps: float, codec: str, crf: int
) -> list[str]:
    """ffmpeg reading frames start..end of a printf-pattern sequence into a video.

    yuv420p and even dimensions keep the file playable everywhere (browsers, QuickTime).
    """
    argv = [
        "ffmpeg", "-hide_banner", "-y",
        "-framerate", f"{fps:g}", "-start_number", str(start), "-i", input_printf,
        "-frames:v", str(end - start + 1),
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", codec, "-pix_fmt", "yuv420p",
    ]  # fmt: skip
    if codec == "libx264":
        argv += ["-crf", str(crf)]
    return [*argv, output]


class Ffmpeg:
    name: ClassVar[str] = "ffmpeg"
    parser: ClassVar[str] = "generic"
    settings_model: ClassVar[type[CompilerSettings]] = FfmpegSettings
    chunked: ClassVar[bool] = False

    def commands(
        self, settings: FfmpegSettings, frame_start: int, frame_end: int
    ) -> list[list[str]]:
        pattern = hashes_to_printf(settings.input)
        return [video_argv(pattern, settings.output, frame_start, frame_end, settings.fps,
                           settings.codec, settings.crf)]  # fmt: skip

    def output_format(self, settings: FfmpegSettings) -> str:
        return settings.output.rsplit(".", 1)[-1].upper() if "." in settings.output else ""

    def finishing_tasks(self, settings: FfmpegSettings) -> list[TaskSpec]:
        return []
