"""Fixtures for the HTTP API tests: a real manager on loopback, a real SQLite file.

`manager` starts `flamenco_gui.manager.Manager` in-process on 127.0.0.1, port 0 (a free
port), with a fresh data dir and a known farm token; `api` is a client around one
aiohttp session that sends the farm token unless told otherwise. Nothing is mocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flamenco_gui.farm.service import FarmConfig
from flamenco_gui.limits import LIMITS
from flamenco_gui.manager import Manager
from tests.api.apiclient import FARM_TOKEN, MAX_ATTEMPTS, Api


@pytest.fixture
def farm_config() -> FarmConfig:
    return FarmConfig(max_attempts=MAX_ATTEMPTS)


@pytest.fixture
async def manager(tmp_path: Path, farm_config: FarmConfig) -> AsyncIterator[Manager]:
    m = Manager(tmp_path / "data", host="127.0.0.1", port=0, token=FARM_TOKEN, config=farm_config)
    await m.start()
    assert m.port != 0
    try:
        yield m
    finally:
        await m.stop()


@pytest.fixture
async def api(manager: Manager) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, manager.url, FARM_TOKEN)


@pytest.fixture
def limit() -> Iterator[Any]:
    """Set a limit for one test; the default comes back afterwards."""
    saved: dict[str, Any] = {}

    def set_(name: str, value: Any) -> None:
        saved.setdefault(name, getattr(LIMITS, name))
        setattr(LIMITS, name, value)

    yield set_
    for name, value in saved.items():
        setattr(LIMITS, name, value)
