"""A job's or a 2015 task's settings, validated by the compiler that `type` names."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from flamenco_gui.compilers import Compiler, compiler_names, get_compiler
from flamenco_gui.farm.errors import Invalid, TooLarge
from flamenco_gui.limits import MAX_JSON_DEPTH


def field_error(exc: ValidationError, prefix: str = "") -> Invalid:
    """Turn pydantic's report into one message that names the offending field."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{loc or prefix or 'body'}: {err['msg']}")
    return Invalid("; ".join(parts))


def compile_settings(type_: str, settings: dict[str, Any]) -> tuple[Compiler, Any]:
    """(the compiler, its validated settings model)."""
    compiler = get_compiler(type_)
    if compiler is None:
        raise Invalid(f"type: unknown compiler {type_!r}; known: {', '.join(compiler_names())}")
    try:
        model: BaseModel = compiler.settings_model.model_validate(settings)
    except ValidationError as exc:
        raise field_error(exc, "settings") from exc
    return compiler, model


def _argv_bytes(commands: list[list[str]]) -> int:
    """Bytes of commands as the store keeps them (JSON), near enough: each argument's
    UTF-8 length plus its quotes and comma, each list's brackets."""
    return sum(
        2 + sum(len(a.encode("utf-8", "surrogatepass")) + 3 for a in argv) for argv in commands
    )


def estimate_compiled_bytes(
    compiler: Compiler, model: Any, chunks: list[tuple[int, int]], extra: int = 0
) -> int:
    """What compiling every chunk would produce, from one or two frames' worth, without
    expanding the rest: a 1 MB argument with `{frame}` over 100,000 frames is 100 GB of
    commands, refused here in microseconds rather than after filling the memory.

    A compiler makes either one command per task or one per frame (`command` with
    `{frame}`); compiling a chunk of two frames tells which. Frame numbers are padded to
    their widest so the estimate never falls short."""
    if not chunks:
        return extra
    first = chunks[0][0]
    one = compiler.commands(model, first, first)
    per_frame = len(compiler.commands(model, first, first + 1)) > len(one)
    digits = max(len(str(chunks[0][0])), len(str(chunks[-1][1]))) + 1
    args = sum(len(argv) for argv in one)
    per_unit = _argv_bytes(one) + args * digits
    frames = sum(end - start + 1 for start, end in chunks)
    return per_unit * (frames if per_frame else len(chunks)) + extra


def check_compiled_bytes(estimate: int, limit: int) -> None:
    if estimate > limit:
        raise TooLarge(
            f"settings: the commands would take about {estimate} bytes, over"
            f" max_compiled_bytes ({limit}); shorten the arguments or use fewer frames"
        )


def parse_settings_string(settings: str) -> dict[str, Any]:
    """The 2015 `settings`, a JSON object in a string. Parsed by pydantic-core, which
    stops at MAX_JSON_DEPTH by itself (json.loads would raise RecursionError deep down)."""
    try:
        parsed = from_json(settings)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise TooLarge(
                f"settings: JSON nested deeper than max_json_depth ({MAX_JSON_DEPTH})"
            ) from exc
        raise Invalid(f"settings: not a JSON string ({exc})") from exc
    if not isinstance(parsed, dict):
        raise Invalid("settings: must be a JSON object encoded as a string")
    return parsed
