"""A job's or a 2015 task's settings, validated by the compiler that `type` names."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from flamenco_gui.compilers import Compiler, compiler_names, get_compiler
from flamenco_gui.farm.errors import Invalid


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
