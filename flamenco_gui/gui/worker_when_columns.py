"""The workers table's columns for which work and when: tags, schedule, remote control."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flamenco_gui.farm.worker_control import describe
from flamenco_gui.gui.table_model import Column
from flamenco_gui.gui.worker_tags_editor import shown_tags

Row = dict[str, Any]


def schedule_text(row: Row, now: float | None = None) -> str:
    """When the schedule next turns the worker on or off, in the schedule's time zone:
    "off until 19:00" (today), "on until Tue 08:00"; "" without a schedule."""
    schedule = row.get("schedule")
    if not schedule:
        return ""
    edge = row.get("schedule_next_change")
    state = "off" if row.get("activity") == "outside schedule" else "on"
    if edge is None:
        return "always " + state
    zone = ZoneInfo(str(schedule.get("tz") or "UTC"))
    local = datetime.fromtimestamp(edge, zone)
    today = datetime.fromtimestamp(time.time() if now is None else now, zone).date()
    return f"{state} until {local.strftime('%H:%M' if local.date() == today else '%a %H:%M')}"


WHEN_COLUMNS = [
    Column("Tags", lambda r: ", ".join(shown_tags(r)), width=110),
    Column(
        "Schedule",
        schedule_text,
        width=130,
        tooltip=lambda r: f"in {(r.get('schedule') or {}).get('tz', 'UTC')}",
    ),
    Column("Remote", lambda r: describe(r.get("control")), width=200),
]
