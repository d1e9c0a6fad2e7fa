"""Which workers run an older build than the manager offers, and "update all".

The versions live on the workers' rows (`Workers.report_version`); the builds on offer
come from the manager's catalogue (downloads/catalogue.py), seen here only through
`BuildCatalogue`, so the farm reads no files itself.

"Update all" fits the pull protocol (a worker has no inbound port): the manager notes,
in memory, which workers run an older one-file executable, and the next pull of each
answers `check_update: true` once (`take`), which makes that worker run its update
check at once instead of at its next periodic one. A held pull of such a worker
answers at once (the request wakes held polls). Kept in memory: a restarted manager
forgets a request nobody has picked up yet, and the workers' periodic checks
(`--update-check`) still come. Workers from a checkout are never asked: they cannot
update themselves, and only say "manager is newer".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from flamenco_gui.farm.wakeups import Wakeups
from flamenco_gui.platform_names import newer
from flamenco_gui.rows import WorkerRow

Offers = dict[tuple[str, str], str]  # (platform, arch) -> the newest version on offer


class OfferedBuild(Protocol):
    @property
    def version(self) -> str: ...
    @property
    def os(self) -> str: ...
    @property
    def arch(self) -> str: ...


class BuildCatalogue(Protocol):
    async def builds(self) -> Sequence[OfferedBuild]: ...


class NoBuilds:
    """A farm without a catalogue (tests, an app built without a Manager)."""

    async def builds(self) -> Sequence[OfferedBuild]:
        return []


class UpdateStore(Protocol):
    def list_workers(self) -> list[WorkerRow]: ...


def newest_offers(builds: Sequence[OfferedBuild]) -> Offers:
    offers: Offers = {}
    for b in builds:
        key = (b.os, b.arch)
        if key not in offers or newer(b.version, offers[key]):
            offers[key] = b.version
    return offers


def update_for(offers: Mapping[tuple[str, str], str], row: Mapping[str, Any]) -> str | None:
    """The newer version on offer for the build this worker row reports, if any."""
    build, version = row.get("build"), row.get("version")
    if not build or not version:
        return None
    offer = offers.get((build["platform"], build["arch"]))
    return offer if offer is not None and newer(offer, version) else None


class WorkerUpdates:
    def __init__(
        self,
        store: UpdateStore,
        catalogue: BuildCatalogue,
        wakeups: Wakeups,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._catalogue = catalogue
        self._wakeups = wakeups
        self._clock = clock
        self._requested: dict[int, float] = {}  # worker id -> when "update all" asked

    async def offers(self) -> Offers:
        """The newest build on offer per platform and architecture (read off the loop)."""
        return newest_offers(await self._catalogue.builds())

    async def versions(self) -> dict[int, dict[str, Any]]:
        """Every worker that reported its build, with `update`: the newer one on offer."""
        offers = await self.offers()
        return {
            w["id"]: {"version": w["version"], **w["build"], "update": update_for(offers, w)}
            for w in self._store.list_workers()
            if w["version"] is not None and w["build"] is not None
        }

    async def request_all(self) -> list[int]:
        """Ask every worker running an older one-file executable to check now; returns
        their ids (a worker asked already stays asked)."""
        offers = await self.offers()
        now = self._clock()
        ids = [
            w["id"]
            for w in self._store.list_workers()
            if w["build"] is not None and w["build"]["frozen"] and update_for(offers, w)
        ]
        for worker_id in ids:
            self._requested.setdefault(worker_id, now)
        if ids:
            self._wakeups.queued()  # held pulls answer now, carrying the flag
        return ids

    def pending(self, worker_id: int) -> bool:
        return worker_id in self._requested

    def take(self, worker_id: int) -> bool:
        """True once per request: the pull answer that carries `check_update`."""
        return self._requested.pop(worker_id, None) is not None
