"""`command`: any program, run once per frame with `{frame}` filled in."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from flamenco_gui.compilers.base import CompilerSettings, TaskSpec

PLACEHOLDER = "{frame}"


class CommandSettings(CompilerSettings):
    argv: list[str] = Field(min_length=1, description="program and arguments; {frame} per frame")

    @model_validator(mode="after")
    def _check(self) -> CommandSettings:
        if not self.argv[0]:
            raise ValueError("argv[0] must name a program")
        if self.frame_end < self.frame_start:
            raise ValueError("frame_end must not be before frame_start")
        return self


class Command:
    name: ClassVar[str] = "command"
    parser: ClassVar[str] = "generic"
    settings_model: ClassVar[type[CompilerSettings]] = CommandSettings
    chunked: ClassVar[bool] = True

    def commands(
        self, settings: CommandSettings, frame_start: int, frame_end: int
    ) -> list[list[str]]:
        """One argv per frame when it names `{frame}`; otherwise the argv once per task."""
        if not any(PLACEHOLDER in a for a in settings.argv):
            return [list(settings.argv)]
        return [
            [a.replace(PLACEHOLDER, str(f)) for a in settings.argv]
            for f in range(frame_start, frame_end + 1)
        ]

    def output_format(self, settings: CommandSettings) -> str:
        return ""

    def finishing_tasks(self, settings: CommandSettings) -> list[TaskSpec]:
        return []
