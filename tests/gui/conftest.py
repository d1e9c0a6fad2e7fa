"""pytest-qt has no qasync support: build the window's loop (qasync's, batched:
gui/event_loop.py) on pytest-qt's `qapp`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from flamenco_gui.gui.event_loop import FarmEventLoop


@pytest.fixture
def qloop(qapp) -> Iterator[FarmEventLoop]:
    # Closing a test's window must not quit the application under the loop.
    qapp.setQuitOnLastWindowClosed(False)
    loop = FarmEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.run_until_complete(asyncio.sleep(0))
        asyncio.set_event_loop(None)
        loop.close()
