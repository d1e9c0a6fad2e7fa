"""A write after the store closed (a request outliving the shutdown grace) is refused
as unavailable, without telling the wrangler the data dir is broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamenco_gui.farm.errors import Unavailable
from flamenco_gui.farm.service import FarmService
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.task_logs import TaskLogs


def test_a_write_after_close_is_unavailable_and_raises_no_banner(tmp_path: Path) -> None:
    store = Store(tmp_path / "farm.sqlite")
    service = FarmService(store, TaskLogs(tmp_path / "logs"), Previews(tmp_path / "previews"))
    seen: list[object] = []
    service.events.subscribe(seen.append)
    store.close()
    with pytest.raises(Unavailable, match="shutting down"), service.changes.change():
        pass
    assert service.storage_error is None
    assert seen == []
