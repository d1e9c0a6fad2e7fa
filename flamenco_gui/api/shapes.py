"""Rows of the farm turned into the API's answers (2015 field names first)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flamenco_gui.farm.tags import decode_tags

# A task, worker or history row (flamenco_gui/rows.py), read by the names listed here.
RowIn = Mapping[str, Any]


_SEED_TASK = (
    "id",
    "worker_id",
    "priority",
    "frame_start",
    "frame_end",
    "frame_current",
    "status",
    "format",
)
_TASK_EXTRA = (
    "job_id",
    "type",
    "parser",
    "commands",
    "lease",
    "progress",
    "activity",
    "attempts",
    "time_cost",
    "error",
    "settings",
    "created",
    "updated",
    "started",
    "finished",
)
_SEED_WORKER = (
    "activity",
    "connection",
    "current_task",
    "hostname",
    "id",
    "ip_address",
    "log",
    "port",
    "status",
    "system",
    "time_cost",
    "last_seen",
    "version",
    "build",
)


def seed_task(row: RowIn) -> dict[str, Any]:
    out = {k: row[k] for k in _SEED_TASK}
    out["format"] = row["format"] or ""
    out.update(
        job_id=row["job_id"], task_id=row["external_id"], type=row["type"], parser=row["parser"]
    )
    return out


def task(row: RowIn) -> dict[str, Any]:
    return seed_task(row) | {k: row[k] for k in _TASK_EXTRA}


def history(rows: Sequence[RowIn]) -> list[dict[str, Any]]:
    keys = ("worker_id", "lease", "started", "ended", "outcome", "reason")
    return [{k: r[k] for k in keys} for r in rows]


def worker(row: RowIn, label: str | None = None) -> dict[str, Any]:
    accepts = row.get("accepts")
    offered = row.get("tags_offered")
    return {k: row[k] for k in _SEED_WORKER} | {
        "label": label or row["hostname"],
        "accepts": [k for k in accepts.split(",") if k] if accepts else None,
        "tags": decode_tags(
            row["tags"] if row.get("tags") is not None else row.get("tags_offered")
        ),
        "tags_offered": decode_tags(offered),
        "allow_power": bool(row.get("allow_power")),
        "mac_address": None if row.get("mac_address") is None else str(row["mac_address"]),
        "control": row.get("control"),
        "schedule": row.get("schedule"),
        "schedule_next_change": row.get("schedule_next_change"),
    }


def labels(rows: Sequence[RowIn]) -> dict[int, str]:
    """Each worker's unique label: its hostname, or `render (2)`, `render (3)` … for the
    second and later workers (by id) with one hostname. `GET /workers` is keyed by it."""
    seen: dict[str, int] = {}
    taken = {r["hostname"] for r in rows}
    out: dict[int, str] = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        name = r["hostname"]
        n = seen.get(name, 0) + 1
        seen[name] = n
        label = name if n == 1 else f"{name} ({n})"
        while n > 1 and label in taken:  # a worker really named `render (2)`
            n += 1
            label = f"{name} ({n})"
        taken.add(label)
        out[r["id"]] = label
    return out


# The 2015 keys of a worker's machine report, there (null) before its first report.
SEED_FREQUENT: dict[str, Any] = {
    "load_average": {"1min": None, "5min": None, "15min": None},
    "worker_cpu_percent": None,
}
SEED_LESS_FREQUENT: dict[str, Any] = {
    "worker_architecture": None,
    "worker_disk_percent": None,
    "worker_mem_percent": None,
    "worker_num_cpus": None,
}


def _frequent(report: dict[str, Any] | None) -> dict[str, Any]:
    report = report or {}
    load = {**SEED_FREQUENT["load_average"], **(report.get("load_average") or {})}
    return {**SEED_FREQUENT, **report, "load_average": load}


def worker_info(row: RowIn) -> dict[str, Any]:
    offered = row.get("tags_offered")
    return {
        "hostname": row["hostname"],
        "mac_address": row["mac_address"],
        "system": row["system"],
        "update_frequent": _frequent(row["update_frequent"]),
        "update_less_frequent": {**SEED_LESS_FREQUENT, **(row["update_less_frequent"] or {})},
        "id": row["id"],
        "status": row["status"],
        "connection": row["connection"],
        "last_seen": row["last_seen"],
        "version": row["version"],
        "tags": decode_tags(row.get("tags") if row.get("tags") is not None else offered),
        "tags_offered": decode_tags(offered),
    }
