"""Sleep schedules' rules (farm/schedules.py): on or off at a time, the next edge."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from flamenco_gui.farm.errors import Invalid
from flamenco_gui.farm.schedules import clean_schedule, is_on, next_change

NIGHTS_AND_WEEKENDS = clean_schedule(
    {
        "tz": "Europe/Amsterdam",
        "ranges": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "19:00", "end": "08:00"},
            {"days": ["sat", "sun"], "start": "00:00", "end": "24:00"},
        ],
    }
)


def at(text: str, tz: str = "Europe/Amsterdam") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


@pytest.mark.parametrize(
    ("when", "on"),
    [
        ("2026-11-30 18:59", False),  # Monday, before the evening
        ("2026-11-30 19:00", True),
        ("2026-12-01 07:59", True),  # Tuesday morning: Monday night still
        ("2026-12-01 08:00", False),
        ("2026-12-05 12:00", True),  # Saturday
        ("2026-12-05 06:00", True),  # Saturday early: Friday night and Saturday
        ("2026-12-07 07:00", False),  # Monday early: Sunday's range ends at 24:00
    ],
)
def test_a_schedule_is_on_inside_its_ranges_in_its_own_time_zone(when: str, on: bool) -> None:
    assert is_on(NIGHTS_AND_WEEKENDS, at(when)) is on


def test_the_next_change_is_the_next_edge_that_flips_it() -> None:
    assert next_change(NIGHTS_AND_WEEKENDS, at("2026-11-30 12:00")) == at("2026-11-30 19:00")
    assert next_change(NIGHTS_AND_WEEKENDS, at("2026-11-30 19:00")) == at("2026-12-01 08:00")
    # Friday 19:00 runs through the weekend: the next change is Monday 00:00 (Sunday's end).
    assert next_change(NIGHTS_AND_WEEKENDS, at("2026-12-04 20:00")) == at("2026-12-07 00:00")
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = clean_schedule({"ranges": [{"days": every_day, "start": "00:00", "end": "24:00"}]})
    assert next_change(always, at("2026-11-30 12:00", "UTC")) is None


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"tz": "Mars/Olympus", "ranges": []}, "tz"),
        ({"ranges": [{"days": ["xyz"], "start": "01:00", "end": "02:00"}]}, "ranges[0].days"),
        ({"ranges": [{"days": ["mon"], "start": "25:00", "end": "02:00"}]}, "ranges[0].start"),
        ({"ranges": [], "on_end": "explode"}, "on_end"),
    ],
)
def test_a_bad_schedule_names_its_field(schedule: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid, match=rf"^{field.replace('[', '.').replace(']', '.')}"):
        clean_schedule(schedule)
