"""Which MACs a wake sends to (farm/wake_on_lan.py)."""

from __future__ import annotations

import uuid

from flamenco_gui.farm.wake_on_lan import mac_addresses


def test_a_2015_workers_integer_mac_is_read_as_its_hex_digits() -> None:
    assert mac_addresses(0x0242AC110002) == ["02:42:ac:11:00:02"]
    assert mac_addresses(str(uuid.getnode())) == [
        ":".join(f"{uuid.getnode():012x}"[i : i + 2] for i in range(0, 12, 2))
    ]


def test_this_workers_comma_separated_macs_are_each_woken() -> None:
    assert mac_addresses("aa:bb:cc:dd:ee:01, aa:bb:cc:dd:ee:02") == [
        "aa:bb:cc:dd:ee:01",
        "aa:bb:cc:dd:ee:02",
    ]
    assert mac_addresses(None) == []
