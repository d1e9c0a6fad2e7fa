"""pytest-qt has no qasync support: build qasync's loop on pytest-qt's `qapp`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import qasync


@pytest.fixture
def qloop(qapp) -> Iterator[qasync.QEventLoop]:
    # Closing a test's window must not quit the application under the loop.
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.run_until_complete(asyncio.sleep(0))
        asyncio.set_event_loop(None)
        loop.close()
