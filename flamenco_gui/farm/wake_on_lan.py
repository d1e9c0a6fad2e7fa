"""Wake-on-LAN: switch a sleeping worker on with a magic packet for its MAC address(es).

The wrangler wakes a worker from the window or `POST /workers/{id}/wake`; with the
`wake_on_queue` setting (off by default) a newly queued job that names tags wakes the
offline, enabled workers that have all of them. Packets go to the broadcast address of
each subnet the worker last reported (its `broadcasts`), or to `--wake-broadcast` when
the manager was started with one (a routed network, a VLAN, a test's namespace), on
UDP port 9, through the `wakeonlan` library. One worker is woken by the queue at most
once every `REWAKE` seconds, so a stream of jobs does not flood the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import wakeonlan

from flamenco_gui.farm.errors import Conflict
from flamenco_gui.farm.settings import FarmConfig
from flamenco_gui.farm.states import Connection, WorkerStatus
from flamenco_gui.farm.tags import decode_tags
from flamenco_gui.farm.workers import Workers
from flamenco_gui.rows import WorkerRow

log = logging.getLogger(__name__)
REWAKE = 300.0
PORT = 9
Send = Callable[[str, str, int], None]  # (mac, broadcast address, port)


def _send(mac: str, host: str, port: int) -> None:
    wakeonlan.wake(mac, host=host, port=port)


def mac_addresses(column: object) -> list[str]:
    """The MACs a worker reported: comma-separated text, or (a 2015 worker) one integer
    from `uuid.getnode()`, kept as its digits."""
    text = str(column or "").strip()
    if text.isdigit():
        raw = f"{int(text):012x}"
        return [":".join(raw[i : i + 2] for i in range(0, 12, 2))]
    return [m.strip() for m in text.split(",") if m.strip()]


class WakeStore(Protocol):
    def list_workers(self) -> list[WorkerRow]: ...


class WakeOnLan:
    def __init__(
        self,
        store: WakeStore,
        workers: Workers,
        config: FarmConfig,
        send: Send = _send,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._workers = workers
        self._config = config
        self._send = send
        self._clock = clock
        self._woken: dict[int, float] = {}  # worker id -> when the queue last woke it

    def targets(self, row: WorkerRow) -> list[tuple[str, str]]:
        """(MAC, address) pairs a wake sends a packet to."""
        macs = mac_addresses(row.get("mac_address"))
        if self._config.wake_broadcast:
            hosts = [self._config.wake_broadcast]
        else:
            hosts = [b for b in str(row.get("broadcasts") or "").split(",") if b]
            hosts = hosts or ["255.255.255.255"]
        return [(mac, host) for mac in macs for host in hosts]

    def wake(self, worker_id: int) -> list[str]:
        """Send the magic packets now; what was sent ("mac via address"). Conflict when
        the worker never reported a MAC address."""
        row = self._workers.get(worker_id)
        targets = self.targets(row)
        if not targets:
            raise Conflict(f"worker {worker_id} never reported a MAC address: it cannot be woken")
        sent = []
        for mac, host in targets:
            try:
                self._send(mac, host, PORT)
                sent.append(f"{mac} via {host}")
            except (OSError, ValueError) as exc:
                log.warning("could not wake worker %s (%s via %s): %s", worker_id, mac, host, exc)
        log.info("woke worker %s: %s", worker_id, ", ".join(sent) or "nothing sent")
        return sent

    def job_queued(self, tags: Iterable[str]) -> list[int]:
        """With `wake_on_queue`: wake the offline, enabled workers that have every tag
        of the job just queued; the ids woken."""
        need = set(tags)
        if not self._config.wake_on_queue or not need:
            return []
        now = self._clock()
        woken = []
        for row in self._store.list_workers():
            if (
                row["connection"] != Connection.OFFLINE
                or row["status"] != WorkerStatus.ENABLED
                or not need <= set(decode_tags(row.get("tags") or row.get("tags_offered")))
                or now - self._woken.get(row["id"], -REWAKE) < REWAKE
                or not self.targets(row)
            ):
                continue
            self._woken[row["id"]] = now
            self.wake(row["id"])
            woken.append(row["id"])
        return woken
