"""Job compilers by name: `type` in a job or a 2015-style task picks one."""

from __future__ import annotations

from flamenco_gui.compilers.base import Compiler, TaskSpec, chunk_frames
from flamenco_gui.compilers.blender_render import BlenderRender
from flamenco_gui.compilers.command import Command
from flamenco_gui.compilers.ffmpeg import Ffmpeg

_REGISTRY: dict[str, Compiler] = {
    "blender_render": BlenderRender(),
    "simple_blender_render": BlenderRender(),  # the 2015 name
    "command": Command(),
    "ffmpeg": Ffmpeg(),
}


def compiler_names() -> list[str]:
    return sorted(_REGISTRY)


def get_compiler(name: str) -> Compiler | None:
    return _REGISTRY.get(name)


__all__ = ["Compiler", "TaskSpec", "chunk_frames", "compiler_names", "get_compiler"]
