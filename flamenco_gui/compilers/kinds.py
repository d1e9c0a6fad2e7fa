"""What running a task takes: the kind of program its commands start.

Both sides ask the same question of the same argv lists: the manager to dispatch a
task only to a worker that accepts its kind, the worker to refuse, before it starts
anything, a task it does not accept (a wrong or compromised manager cannot make it run
one). The kind is read from the commands, never from the task's claimed `type`.

- `blender_render`: `blender` without a way to run Python of the submitter's choosing;
- `blender_python`: `blender` with `--python`, `--python-expr`, `--python-text`,
  `--python-console` or `-P`, or with scripts in the .blend allowed to run
  (`-y`/`--enable-autoexec`); the compiler's own scene overrides
  (`import bpy; scn = bpy.context.scene; scn.cycles.samples = 64; …`, every value an
  int or a bool) do not count;
- `ffmpeg`: `ffmpeg`;
- `command`: any other program.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

BLENDER_RENDER = "blender_render"
BLENDER_PYTHON = "blender_python"
FFMPEG = "ffmpeg"
COMMAND = "command"
KINDS = (BLENDER_RENDER, FFMPEG, COMMAND, BLENDER_PYTHON)
DEFAULT_ACCEPTS = (BLENDER_RENDER, FFMPEG)
# Higher runs more of the submitter's choosing; a task is its most powerful command.
_RANK = {FFMPEG: 0, BLENDER_RENDER: 1, BLENDER_PYTHON: 2, COMMAND: 3}

_PYTHON_FLAGS = {"-P", "-y", "--enable-autoexec", "--python-console"}
_OVERRIDE_STMT = (
    r"scn\.cycles\.samples = \d+|scn\.eevee\.taa_render_samples = \d+"
    r"|scn\.render\.resolution_(?:x|y|percentage) = \d+"
    r"|scn\.cycles\.use_denoising = (?:True|False)"
    r"|\[setattr\(vl\.cycles, 'use_denoising', (?:True|False)\) for vl in scn\.view_layers\]"
)
_OVERRIDES = re.compile(
    rf"import bpy; scn = bpy\.context\.scene; (?:{_OVERRIDE_STMT})(?:; (?:{_OVERRIDE_STMT}))*"
)


def is_scene_override(expr: str) -> bool:
    """The compiler's own `--python-expr`: fixed statements with int/bool values."""
    return _OVERRIDES.fullmatch(expr) is not None


def _blender_runs_python(argv: Sequence[str]) -> bool:
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg in _PYTHON_FLAGS or arg.startswith("--python-expr="):
            return True
        if arg == "--python-expr":
            following = args[i + 1] if i + 1 < len(args) else ""
            if not is_scene_override(following):
                return True
        elif arg.startswith("--python") and arg not in ("--python-expr", "--python-use-system-env"):
            return True
    return False


def command_kind(argv: Sequence[str]) -> str:
    program = argv[0] if argv else ""
    if program == "blender":
        return BLENDER_PYTHON if _blender_runs_python(argv) else BLENDER_RENDER
    if program == "ffmpeg":
        return FFMPEG
    return COMMAND


def task_kind(commands: Iterable[Sequence[str]]) -> str:
    """The kind a worker must accept to run all of `commands`."""
    kinds = [command_kind(argv) for argv in commands]
    return max(kinds, key=_RANK.__getitem__) if kinds else FFMPEG


def refusal(commands: Iterable[Sequence[str]], accepts: Iterable[str]) -> str | None:
    """Why a worker that accepts `accepts` must not run `commands`; None if it may."""
    kind = task_kind(commands)
    if kind in set(accepts):
        return None
    if kind == BLENDER_PYTHON:
        return (
            "this worker does not run Python in Blender (--python, --python-expr, "
            "autoexec): its owner can allow it with --allow-blender-python"
        )
    return f"this worker does not accept {kind} tasks: its owner can allow them with --accept"


def job_kinds(type: str, settings: dict[str, object]) -> set[str]:
    """The kinds a job's tasks will need, from its type and settings (no compiling)."""
    if type in ("blender_render", "simple_blender_render"):
        extra = settings.get("blender_args")
        args = [str(a) for a in extra] if isinstance(extra, list) else []
        kinds = {command_kind(["blender", *args])}
        return kinds | {FFMPEG} if settings.get("video") else kinds
    if type == "command":
        argv = settings.get("argv")
        return {command_kind([str(a) for a in argv])} if isinstance(argv, list) else {COMMAND}
    return {FFMPEG} if type == "ffmpeg" else {COMMAND}


def waiting_reason(kinds: set[str], accepted: set[str] | None) -> str | None:
    """Why a job's queued tasks will wait for ever; `accepted` None: some worker takes all."""
    if accepted is None:
        return None
    missing = sorted(kinds - accepted, key=_RANK.__getitem__, reverse=True)
    return f"no worker accepts {missing[0]} jobs" if missing else None
