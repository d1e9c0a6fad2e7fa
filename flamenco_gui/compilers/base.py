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
    """One task of a compiled job: its frames and the commands that render them."""

    frame_start: int
    frame_end: int
    commands: list[list[str]]


class Compiler(Protocol):
    name: ClassVar[str]
    parser: ClassVar[str]
    settings_model: ClassVar[type[CompilerSettings]]

    def commands(self, settings: Any, frame_start: int, frame_end: int) -> list[list[str]]:
        """The argv lists that render frames `frame_start`..`frame_end` (inclusive)."""
        ...

    def output_format(self, settings: Any) -> str: ...


def chunk_frames(start: int, end: int, chunk_size: int) -> list[tuple[int, int]]:
    """Split an inclusive frame range into consecutive chunks of at most chunk_size."""
    return [(s, min(s + chunk_size - 1, end)) for s in range(start, end + 1, chunk_size)]
