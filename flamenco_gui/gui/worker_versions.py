"""The workers table's Version column: what each worker runs, and the newer build the
manager offers for its platform ("0.1.0 → 0.2.0").

A worker's version arrives on its row (an ordinary worker event). The builds on offer
are files in the manager's downloads folder that a wrangler may drop there at any
time, with no event: `BuildOffers` reads them through the farm (off the loop) when the
window loads, after "update all", and every REFRESH_MS, and the column is repainted
when they changed. A cell reads the offers in hand; painting never reads a file.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from flamenco_gui.farm.service import FarmService
from flamenco_gui.farm.worker_updates import Offers, update_for
from flamenco_gui.gui.table_model import Column

Row = dict[str, Any]
REFRESH_MS = 30_000
TITLE = "Version"


class BuildOffers(QObject):
    changed = Signal()  # the newest build on offer changed for some platform

    def __init__(self, service: FarmService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self.offers: Offers = {}
        self._running: set[asyncio.Future[None]] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh_soon)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def refresh_soon(self) -> None:
        future = asyncio.ensure_future(self.refresh())
        self._running.add(future)
        future.add_done_callback(self._running.discard)

    async def refresh(self) -> None:
        try:
            offers = await self._service.offered_versions()
        except OSError:
            return  # the downloads folder unreadable for a moment: keep what we had
        if offers != self.offers:
            self.offers = offers
            self.changed.emit()

    def text(self, row: Row) -> str:
        version = row.get("version")
        if not version:
            return ""
        update = update_for(self.offers, row)
        return f"{version} → {update}" if update else str(version)

    def tooltip(self, row: Row) -> str:
        build = row.get("build")
        if not build or not row.get("version"):
            return "Not reported yet: a worker reports its version when it starts"
        how = "one-file executable" if build.get("frozen") else "checkout"
        text = f"flamenco {row['version']} on {build['platform']} {build['arch']}, {how}"
        update = update_for(self.offers, row)
        if update is None:
            return text
        if build.get("frozen"):
            return f"{text}. The manager offers {update}: it updates between tasks (Update all)"
        return f"{text}. The manager offers {update}; a checkout does not update itself"


def version_column(offers: BuildOffers) -> Column:
    return Column(TITLE, offers.text, width=110, tooltip=offers.tooltip)
