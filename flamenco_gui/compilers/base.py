"""What a job compiler is: validated settings in, argv lists out. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

MAX_FRAME = 1_048_574


class CompilerSettings(BaseModel):
    """Settings every compiler shares; unknown keys are refused so typos surface."""

    model_config = ConfigDict(extra="forbid")

    # Blender's own frame limits (MAXFRAME); keeps every number well inside SQLite's.
    frame_start: int = Field(default=1, ge=-MAX_FRAME, le=MAX_FRAME)
    frame_end: int = Field(default=1, ge=-MAX_FRAME, le=MAX_FRAME)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task that runs once all of its job's frame tasks completed (a video step)."""

    type: str
    parser: str
    frame_start: int
    frame_end: int
    commands: list[list[str]]


class Compiler(Protocol):
    name: ClassVar[str]
    parser: ClassVar[str]
    settings_model: ClassVar[type[CompilerSettings]]
    chunked: ClassVar[bool]  # False: the whole frame range is one task (ffmpeg)

    def commands(self, settings: Any, frame_start: int, frame_end: int) -> list[list[str]]:
        """The argv lists that render frames `frame_start`..`frame_end` (inclusive)."""
        ...

    def output_format(self, settings: Any) -> str: ...

    def finishing_tasks(self, settings: Any) -> list[TaskSpec]:
        """Tasks that depend on every frame task of the job (may be none)."""
        ...


def chunk_frames(start: int, end: int, chunk_size: int) -> list[tuple[int, int]]:
    """Split an inclusive frame range into consecutive chunks of at most chunk_size."""
    return [(s, min(s + chunk_size - 1, end)) for s in range(start, end + 1, chunk_size)]
