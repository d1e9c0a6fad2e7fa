"""The manager's runtime: store, service, HTTP server and background loops on one loop.

Used the same way by the headless command and by the window (on qasync's loop). Never
`web.run_app`: it would start a loop of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

from flamenco_gui import __version__
from flamenco_gui.api.app import make_app
from flamenco_gui.api.auth import FarmToken
from flamenco_gui.api.connections import GuardedRunner
from flamenco_gui.api.routes_downloads import DOWNLOADS
from flamenco_gui.api.routes_identity import FARM_ID, OWN_HOSTS
from flamenco_gui.api.routes_meta import API_VERSION
from flamenco_gui.api.routes_pairing import PAIRINGS
from flamenco_gui.config import (
    VIEWER_TOKEN_FILE,
    ManagerConfig,
    load_or_create_farm_id,
    load_or_create_token,
    load_or_create_viewer_token,
    manager_url,
    rotate_token,
)
from flamenco_gui.discovery import (
    Advertiser,
    advertised_addresses,
    advertising_wanted,
    lan_addresses,
)
from flamenco_gui.downloads.catalogue import Catalogue
from flamenco_gui.farm.pairing import PairingCodes
from flamenco_gui.farm.service import FarmService
from flamenco_gui.farm.settings import FarmConfig, stored_settings
from flamenco_gui.limits import LIMITS
from flamenco_gui.loop_lag import LoopLagMonitor
from flamenco_gui.store.blobs import BlobStore
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.task_logs import TaskLogs

log = logging.getLogger(__name__)

DB_FILE = "farm.sqlite"
FILES_DIR = "files"  # the file store of `manager` storage (store/blobs.py)
OUTPUT_DIR = "output"  # the default output root


def own_hosts(host: str) -> frozenset[str]:
    """The names and addresses workers may reach this manager by (routes_identity.py)."""
    names = {host, "localhost", "127.0.0.1", "::1", socket.gethostname()}
    names.add(socket.getfqdn())
    names.update(lan_addresses())
    names.update(f"{n}.local" for n in list(names) if "." not in n and ":" not in n)
    return frozenset(n.lower() for n in names if n)


class Manager:
    def __init__(
        self,
        data_dir: Path,
        host: str = "0.0.0.0",
        port: int = 7777,
        token: str | None = None,
        config: FarmConfig | None = None,
        overrides: dict[str, Any] | None = None,
        advertise: bool | None = None,
        wake_broadcast: str | None = None,
        output_root: Path | None = None,
    ) -> None:
        """`config` is used as given (tests); otherwise the defaults, then the settings
        stored by the window, then `overrides` (command-line flags) apply. `advertise`
        announces the manager on the LAN (mDNS) when it listens there (default: unless
        FLAMENCO_NO_ADVERTISE=1). `output_root`: where `manager` jobs' frames land
        (default <data dir>/output)."""
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.advertise = advertising_wanted() if advertise is None else advertise
        # Pairing codes live in memory: a restart voids them, as a short-lived secret should.
        self.pairing = PairingCodes()
        self._advertiser: Advertiser | None = None
        self._advertising: asyncio.Task[None] | None = None
        self._advertised = False
        data_dir.mkdir(parents=True, exist_ok=True)
        self.token = FarmToken(load_or_create_token(data_dir, token))
        # Read-only, for the status page and dashboards: never the farm token there.
        self.viewer_token = FarmToken(load_or_create_viewer_token(data_dir))
        # Shown in the window; workers pin it and refuse a manager with another.
        self.farm_id = load_or_create_farm_id(data_dir)
        self.store = Store(data_dir / DB_FILE)
        if config is None:
            config = FarmConfig()
            config.update(stored_settings(self.store))
            config.update(overrides or {})
        config.wake_broadcast = wake_broadcast or config.wake_broadcast
        # Builds for workers to update themselves with (docs/self_update.md).
        self.downloads = Catalogue.for_manager(data_dir)
        self.service = FarmService(
            self.store,
            TaskLogs(data_dir / "logs"),
            Previews(data_dir / "previews"),
            config,
            self.downloads,
            files=(BlobStore(data_dir / FILES_DIR), output_root or data_dir / OUTPUT_DIR),
        )
        self.loop_lag = LoopLagMonitor()
        self._runner: GuardedRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def rotate_token(self) -> str:
        """A new farm token, in force at once; registered workers keep their secrets."""
        self.token.value = rotate_token(self.data_dir)
        return self.token.value

    def rotate_viewer_token(self) -> str:
        """A new viewer token, in force at once: status pages opened with the old one stop."""
        self.viewer_token.value = rotate_token(self.data_dir, VIEWER_TOKEN_FILE)
        return self.viewer_token.value

    @classmethod
    def from_config(cls, config: ManagerConfig) -> Manager:
        return cls(
            config.data_dir,
            config.host,
            config.port,
            config.token,
            overrides=config.farm,
            advertise=config.advertise,
            wake_broadcast=config.wake_broadcast,
            output_root=config.output_root,
        )

    @property
    def advertised(self) -> bool:
        """Whether the LAN announcement is up (the window may say so)."""
        return self._advertised

    @property
    def url(self) -> str:
        return manager_url(self.host, self.port)

    async def start(self) -> None:
        self.store.start_checkpointer()
        app = make_app(self.service, self.token, self.loop_lag, self.viewer_token)
        app[PAIRINGS] = self.pairing
        app[FARM_ID] = self.farm_id
        app[OWN_HOSTS] = own_hosts(self.host)
        app[DOWNLOADS] = self.downloads
        # Long polls and event streams are cut after 2 s rather than holding up a stop.
        # Connections are capped and timed (api/connections.py, docs/limits.md).
        self._runner = GuardedRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=2.0,
            keepalive_timeout=LIMITS.keepalive_timeout,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:  # tests ask for any free port
            self.port = self._runner.addresses[0][1]
        files = self.service.files()
        await files.start()
        self._tasks = [
            asyncio.create_task(self.service.run_timeouts(), name="timeouts"),
            asyncio.create_task(self.service.run_schedules(), name="schedules"),
            asyncio.create_task(self.loop_lag.run(), name="loop-lag"),
            asyncio.create_task(files.collect_forever(), name="file-store-clean-up"),
        ]
        log.info("manager listening on %s:%s (workers use %s)", self.host, self.port, self.url)
        self._start_advertising()

    def _start_advertising(self) -> None:
        """Announce on the LAN in the background: probing takes about a second, which
        must not delay the window, and a failure only means workers need --manager."""
        if not self.advertise:
            return
        try:
            addresses = advertised_addresses(self.host)
        except OSError as exc:
            log.warning("LAN discovery off: cannot resolve %s: %s", self.host, exc)
            return
        if not addresses:
            log.info("LAN discovery off: nothing to announce (listening on %s)", self.host)
            return
        self._advertiser = Advertiser(self.port, __version__, API_VERSION, addresses)
        self._advertising = asyncio.create_task(self._advertise(self._advertiser))

    async def _advertise(self, advertiser: Advertiser) -> None:
        try:
            name = await asyncio.to_thread(advertiser.start)
        except Exception as exc:
            log.warning("LAN discovery off: could not advertise over mDNS: %s", exc)
            return
        self._advertised = True
        log.info("advertising %r on %s (mDNS)", name, ", ".join(advertiser.addresses))

    async def _stop_advertising(self) -> None:
        if self._advertiser is None or self._advertising is None:
            return
        await self._advertising  # a stop right after start waits for the probe to end
        try:
            await asyncio.to_thread(self._advertiser.stop)
        except Exception as exc:
            log.warning("could not withdraw the mDNS advertisement: %s", exc)
        self._advertiser = self._advertising = None
        self._advertised = False

    async def stop(self) -> None:
        await self._stop_advertising()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.store.close()
