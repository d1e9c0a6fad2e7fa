"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from flamenco_gui import __version__
from flamenco_gui.api import schemas as s
from flamenco_gui.api.routing import ROUTES, Auth, Route
from flamenco_gui.api.schemas import MAX_ID

_REF = "#/components/schemas/{model}"


def _schema(tp: Any, mode: str, defs: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(tp).json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
    defs.update(schema.pop("$defs", {}))
    title = getattr(tp, "__name__", None)
    if isinstance(tp, type) and title and schema.get("type") == "object" and "properties" in schema:
        defs[title] = schema
        return {"$ref": _REF.format(model=title)}
    return schema


def _accepts_empty(model: type[BaseModel]) -> bool:
    try:
        model.model_validate({})
    except ValidationError:
        return False
    return True


# A file of the file store is named by its hash (api/routes_files.py).
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _path_and_params(path: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for name in re.findall(r"\{(\w+)(?::[^}]*)?\}", path):
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": _SHA256
                if name == "sha256"
                else {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            }
        )
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path), params


def _query_params(model: Any, defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = TypeAdapter(model).json_schema(ref_template=_REF)
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _operation(r: Route, defs: dict[str, Any]) -> dict[str, Any]:
    _, params = _path_and_params(r.path)
    if r.query:
        params += _query_params(r.query, defs)
    op: dict[str, Any] = {
        "summary": r.summary,
        "operationId": r.handler.__name__,
        "parameters": params,
        "responses": {},
    }
    doc = (r.handler.__doc__ or "").strip()
    if "\n" in doc:
        op["description"] = doc
    if r.body:
        op["requestBody"] = {
            # No body is read as `{}` (routing._read_body): optional where `{}` is valid.
            "required": not _accepts_empty(r.body),
            "content": {"application/json": {"schema": _schema(r.body, "validation", defs)}},
        }
    if r.raw_body:
        op["requestBody"] = {
            "required": True,
            "content": {r.raw_body: {"schema": {"type": "string", "format": "binary"}}},
        }
    if r.response is None:
        op["responses"][str(r.status)] = {"description": "done"}
    elif r.content_type != "application/json":
        op["responses"][str(r.status)] = {
            "description": "text",
            "content": {r.content_type: {"schema": {"type": "string"}}},
        }
    else:
        op["responses"][str(r.status)] = {
            "description": "ok",
            "content": {"application/json": {"schema": _schema(r.response, "serialization", defs)}},
        }
    if r.provides:
        # OpenAPI links: what can be done with the object this call created.
        op["responses"][str(r.status)]["links"] = {
            other.handler.__name__: {
                "operationId": other.handler.__name__,
                "parameters": {r.provides: "$response.body#/id"},
            }
            for other in ROUTES
            if other is not r
            and _path_and_params(other.path)[1]
            and [p["name"] for p in _path_and_params(other.path)[1]] == [r.provides]
        }
    # Any request may meet a connection limit (docs/limits.md): 429, 431.
    errors = set(r.errors) | {429, 431}
    if r.body or r.raw_body:
        errors |= {408}  # body_timeout
    if r.body or r.query or r.raw_body:
        errors |= {400, 413, 422}
    # Who may call it (docs/security.md); tests/api/test_auth_routes.py walks them all.
    op["x-roles"] = r.auth.roles
    if r.auth == Auth.WORKER:
        op["x-worker-scope"] = "its own worker and the task it holds under its current lease"
    if r.auth != Auth.NONE:
        errors |= {401, 403}
        op["security"] = [{"bearer": []}]
    else:
        op["security"] = []
    for code in sorted(errors):
        op["responses"][str(code)] = {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
        }
    return op


@cache
def spec() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    _schema(s.Error, "serialization", defs)
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        path, _ = _path_and_params(r.path)
        paths.setdefault(path, {})[r.method.lower()] = _operation(r, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Flamenco Desktop Manager API",
            "version": __version__,
            "description": "The 2015 Flamenco Manager API, extended with jobs, logs and events.",
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
