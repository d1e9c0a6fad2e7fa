"""The farm of real processes most end-to-end tests start from (tests/procs.py): the
manager and workers they add, stopped after the test, their logs shown when it failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import Farm


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    farm = Farm(tmp_path)
    try:
        yield farm
    finally:
        farm.stop()
        farm.dump_logs()  # shown by pytest only when the test failed
