"""`blender_render` (alias `simple_blender_render`): Blender's own command-line render."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flamenco_gui.compilers.base import CompilerSettings, TaskSpec
from flamenco_gui.compilers.ffmpeg import video_argv
from flamenco_gui.compilers.frames import blender_frame_files

Format = Literal[
    "PNG",
    "JPEG",
    "OPEN_EXR",
    "OPEN_EXR_MULTILAYER",
    "TIFF",
    "BMP",
    "TARGA",
    "TARGA_RAW",
    "IRIS",
    "JP2",
    "HDR",
    "DPX",
    "CINEON",
    "WEBP",
]


class VideoStep(BaseModel):
    """Make a video of the frames once they are all rendered."""

    model_config = ConfigDict(extra="forbid")

    output: str = Field(min_length=1, description="the video file, e.g. /r/shot.mp4")
    fps: float = Field(default=24, gt=0, le=240)
    codec: Literal["libx264", "mpeg4"] = "libx264"


class BlenderRenderSettings(CompilerSettings):
    filepath: str = Field(min_length=1)
    render_output: str = Field(min_length=1, description="output path, #### is the frame")
    format: Format = "PNG"
    engine: Literal["CYCLES", "BLENDER_EEVEE", "BLENDER_WORKBENCH"] | None = None
    samples: int | None = Field(default=None, ge=1, le=1_000_000)
    resolution_x: int | None = Field(default=None, ge=4, le=65536)
    resolution_y: int | None = Field(default=None, ge=4, le=65536)
    resolution_percentage: int | None = Field(default=None, ge=1, le=100)
    denoise: bool | None = Field(default=None, description="Cycles denoising on/off")
    blender_args: list[str] = Field(default_factory=list, description="extra args before -a")
    video: VideoStep | None = None
    allow_uniform_frames: bool = Field(
        default=False, description="frames of one colour are fine (mattes, title cards)"
    )

    @model_validator(mode="after")
    def _frames_in_order(self) -> BlenderRenderSettings:
        if self.frame_end < self.frame_start:
            raise ValueError("frame_end must not be before frame_start")
        return self


def _scene_overrides(s: BlenderRenderSettings) -> str | None:
    """A Python expression setting the optional overrides; every value is validated
    above as an int/bool/enum, so nothing user-written is ever evaluated."""
    stmts = []
    if s.samples is not None:
        stmts.append(f"scn.cycles.samples = {int(s.samples)}")
        stmts.append(f"scn.eevee.taa_render_samples = {int(s.samples)}")
    if s.resolution_x is not None:
        stmts.append(f"scn.render.resolution_x = {int(s.resolution_x)}")
    if s.resolution_y is not None:
        stmts.append(f"scn.render.resolution_y = {int(s.resolution_y)}")
    if s.resolution_percentage is not None:
        stmts.append(f"scn.render.resolution_percentage = {int(s.resolution_percentage)}")
    if s.denoise is not None:
        flag = bool(s.denoise)
        stmts.append(f"scn.cycles.use_denoising = {flag}")
        stmts.append(f"[setattr(vl.cycles, 'use_denoising', {flag}) for vl in scn.view_layers]")
    if not stmts:
        return None
    return "import bpy; scn = bpy.context.scene; " + "; ".join(stmts)


class BlenderRender:
    name: ClassVar[str] = "blender_render"
    parser: ClassVar[str] = "blender_render"
    settings_model: ClassVar[type[CompilerSettings]] = BlenderRenderSettings
    chunked: ClassVar[bool] = True

    def commands(
        self, settings: BlenderRenderSettings, frame_start: int, frame_end: int
    ) -> list[list[str]]:
        argv = ["blender", "--background", settings.filepath]
        if settings.engine:
            argv += ["--engine", settings.engine]
        expr = _scene_overrides(settings)
        if expr:
            argv += ["--python-expr", expr]
        argv += [
            "--render-output",
            settings.render_output,
            "--render-format",
            settings.format,
            *settings.blender_args,
            "--frame-start",
            str(frame_start),
            "--frame-end",
            str(frame_end),
            "--render-anim",
        ]
        return [argv]

    def output_format(self, settings: BlenderRenderSettings) -> str:
        return settings.format

    def finishing_tasks(self, settings: BlenderRenderSettings) -> list[TaskSpec]:
        if settings.video is None:
            return []
        v = settings.video
        frames = blender_frame_files(settings.render_output, settings.format)
        argv = video_argv(
            frames, v.output, settings.frame_start, settings.frame_end, v.fps, v.codec, 20
        )
        return [TaskSpec("ffmpeg", "generic", settings.frame_start, settings.frame_end, [argv])]
