"""Workers: registration and their secrets, the wrangler's switches, going offline.

A worker is the random id (`uuid`) it generated and keeps with its secret; the
hostname is only a label, so two nodes cloned from one image are two workers. A known
id re-registers only with its own secret, and one identity live from two places at
once (a copied work dir) is refused, naming the fix. See docs/security.md.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Conflict, Forbidden, NotFound
from flamenco_gui.farm.states import Connection, TaskStatus, WorkerStatus
from flamenco_gui.farm.tags import encode_tags
from flamenco_gui.farm.task_state_machine import TaskStateMachine
from flamenco_gui.farm.wakeups import Wakeups
from flamenco_gui.rows import Fields, TaskState, WorkerBuild, WorkerRow

log = logging.getLogger(__name__)
T = TaskStatus
# A worker's row when it has gone: nothing running, nothing to show.
OFFLINE: Fields = {"connection": Connection.OFFLINE.value, "activity": None, "current_task": None}
REPORT_KEYS = (
    "update_frequent",
    "update_less_frequent",
    "mac_address",
    "ip_address",
    "accepts",
    "allow_power",
)
RESET = "flamenco worker --reset-identity"


class IdentityInUse(Conflict):
    """One worker identity reporting from two places at once: a copied work dir."""


def encode_accepts(kinds: Iterable[str] | None) -> str | None:
    """The `accepts` column: `,a,b,` so that SQL can look one kind up with instr()."""
    if kinds is None:
        return None
    return "," + ",".join(sorted(set(kinds))) + ","


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class WorkerStore(Protocol):
    def insert_worker(self, row: Fields) -> int: ...
    def get_worker(self, worker_id: int) -> WorkerRow | None: ...
    def legacy_worker(self, hostname: str) -> WorkerRow | None: ...
    def worker_by_uuid(self, uuid: str) -> WorkerRow | None: ...
    def update_worker(self, worker_id: int, fields: Fields) -> bool: ...
    def delete_worker(self, worker_id: int) -> None: ...
    def list_workers(self) -> list[WorkerRow]: ...
    def worker_secret_hashes(self) -> dict[str, int]: ...
    def online_workers(self) -> list[int]: ...
    def free_stale_current_tasks(self) -> None: ...
    def tasks_leased_to(self, worker_id: int) -> list[TaskState]: ...


def report_fields(report: dict[str, Any], now: float) -> Fields:
    """What a worker's report changes on its row: alive now, and its machine."""
    fields: Fields = {"last_seen": now, "connection": Connection.ONLINE.value}
    for key in REPORT_KEYS:
        if report.get(key) is not None:
            fields[key] = report[key]
    if "accepts" in fields:
        fields["accepts"] = encode_accepts(fields["accepts"])
    if report.get("broadcasts") is not None:  # for Wake-on-LAN (farm/wake_on_lan.py)
        fields["broadcasts"] = ",".join(report["broadcasts"])
    if "activity" in report:  # an idle worker's own word: why it takes no work, or None
        fields["activity"] = report["activity"]
    if report.get("tags") is not None:  # offered by its --tags (farm/tags.py)
        fields["tags_offered"] = encode_tags(report["tags"])
    return fields


class Workers:
    def __init__(
        self,
        store: WorkerStore,
        changes: Changes,
        states: TaskStateMachine,
        wakeups: Wakeups,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._changes = changes
        self._states = states
        self._wakeups = wakeups
        self._clock = clock
        self._secrets = store.worker_secret_hashes()
        # Secrets that authenticated, so that a worker's every request is not hashed
        # again; emptied whenever a secret is dropped.
        self._verified: dict[str, int] = {}
        # Where each worker identity last reported from (its node) and when.
        self._nodes: dict[int, tuple[str, float]] = {}

    def register(
        self,
        hostname: str,
        system: str,
        ip_address: str | None = None,
        *,
        uuid: str | None = None,
        caller: int | None = None,
        new_only: bool = False,
        node: str | None = None,
        window: float = 60.0,
        **details: Any,
    ) -> tuple[WorkerRow, str]:
        """Register (or re-register) a worker; returns its row and its new secret.

        `caller` is the worker whose secret came with the request (None: the farm
        token, or a pairing code with `new_only`). A known `uuid` is re-registered only
        by itself; a new one only with the farm token or a code. Without a `uuid` (a
        2015 client) the hostname keys it among the workers that have none.
        """
        existing = self._store.worker_by_uuid(uuid) if uuid else None
        if existing is not None and (new_only or caller != existing["id"]):
            self.check_new(uuid)
        if existing is None and caller is not None:
            raise Forbidden("a worker secret may only re-register its own worker")
        if not uuid and not new_only:
            existing = self._store.legacy_worker(hostname)
        if existing is not None and node is not None:
            self.claim_node(existing["id"], node, window)
        if "accepts" in details:
            details["accepts"] = encode_accepts(details["accepts"])
        if details.get("tags") is not None:
            details["tags_offered"] = encode_tags(details["tags"])
        if details.get("broadcasts") is not None:
            details["broadcasts"] = ",".join(details["broadcasts"])
        details.pop("tags", None)
        secret = secrets.token_urlsafe(32)
        digest = hash_secret(secret)
        now = self._clock()
        fields = {
            "system": system,
            "ip_address": ip_address,
            "secret_hash": digest,
            "connection": Connection.ONLINE.value,
            "last_seen": now,
            **{k: v for k, v in details.items() if v is not None},
        }
        with self._changes.change():
            if existing:
                worker_id = existing["id"]
                self._forget(existing["secret_hash"])
                self._store.update_worker(worker_id, {"hostname": hostname, **fields})
            else:
                worker_id = self._store.insert_worker(
                    {
                        "hostname": hostname,
                        "uuid": uuid or None,
                        "status": WorkerStatus.ENABLED.value,
                        "created": now,
                        **fields,
                    }
                )
            self._secrets[digest] = worker_id
            if node is not None:
                self._nodes[worker_id] = (node, now)
            self._changes.emit("worker", worker_id)
        return self.get(worker_id), secret

    def check_new(self, uuid: str | None) -> None:
        """Raises Forbidden when `uuid` already belongs to a registered worker."""
        existing = self._store.worker_by_uuid(uuid) if uuid else None
        if existing is not None:
            raise Forbidden(
                f"worker id {uuid} is already registered as {existing['hostname']!r}: only "
                f"that worker's own secret re-registers it. If this node's work dir was "
                f"copied from another worker, run `{RESET}` here"
            )

    def authenticate(self, secret: str) -> int | None:
        worker_id = self._verified.get(secret)
        if worker_id is None:
            worker_id = self._secrets.get(hash_secret(secret))
            if worker_id is not None:  # only a valid secret is kept: no growth by guessing
                self._verified[secret] = worker_id
        return worker_id

    def _forget(self, secret_hash: str | None) -> None:
        self._secrets.pop(secret_hash or "", None)
        self._verified.clear()

    def claim_node(self, worker_id: int, node: str | None, window: float) -> None:
        """Refuse a report from a second place while the identity is live in another.

        `node` says where a worker process runs (its machine's boot and its work dir,
        hashed, worker/identity.py). The same identity from another node within
        `window` seconds of the last report means two machines share one work dir.
        """
        if not node:
            return
        now = self._clock()
        last = self._nodes.get(worker_id)
        if last is not None and last[0] != node and now - last[1] < window:
            raise IdentityInUse(
                f"worker {worker_id}'s identity is in use by another running worker (the "
                f"same id and secret from a second machine or work dir: a copied work "
                f"dir?). Run `{RESET}` on this node to give it an identity of its own"
            )
        self._nodes[worker_id] = (node, now)

    def release_node(self, worker_id: int) -> None:
        """The worker has gone: its identity may report from anywhere again."""
        self._nodes.pop(worker_id, None)

    def get(self, worker_id: int) -> WorkerRow:
        row = self._store.get_worker(worker_id)
        if row is None:
            raise NotFound(f"worker {worker_id} does not exist")
        return row

    def find(self, worker_id: int) -> WorkerRow | None:
        return self._store.get_worker(worker_id)

    def all(self) -> list[WorkerRow]:
        return self._store.list_workers()

    def set_enabled(self, worker_id: int, enabled: bool) -> WorkerRow:
        """Disabling keeps a running task going; the worker just gets no new ones."""
        self.get(worker_id)
        status = WorkerStatus.ENABLED if enabled else WorkerStatus.DISABLED
        with self._changes.change():
            self._store.update_worker(worker_id, {"status": status.value})
            self._changes.emit("worker", worker_id)
        if enabled:
            self._wakeups.queued()
        return self.get(worker_id)

    def set_tags(self, worker_id: int, tags: Iterable[str]) -> WorkerRow:
        """The wrangler's tags for a worker; from now on they win over its `--tags`. A
        worker that gained a tag may take work that waited for it: held polls wake."""
        self.get(worker_id)
        with self._changes.change():
            self._store.update_worker(worker_id, {"tags": encode_tags(tags)})
            self._changes.emit("worker", worker_id)
        self._wakeups.queued()
        return self.get(worker_id)

    def report_version(
        self,
        worker_id: int,
        version: str,
        platform: str,
        arch: str,
        frozen: bool,
        sha256: str | None,
    ) -> WorkerRow:
        """A worker says which build it runs. Kept on its row (not beside it) so the
        window's table and `GET /workers` learn it by the usual event after commit,
        and a restarted manager still knows it."""
        self.get(worker_id)
        build: WorkerBuild = {
            "platform": platform,
            "arch": arch,
            "frozen": frozen,
            "sha256": sha256,
            "reported_at": self._clock(),
        }
        with self._changes.change():
            self._store.update_worker(worker_id, {"version": version, "build": build})
            self._changes.emit("worker", worker_id)
        return self.get(worker_id)

    def forget(self, worker_id: int) -> None:
        worker = self.get(worker_id)
        with self._changes.change():
            self.requeue_leased(worker_id, "worker was removed from the farm")
            self._store.delete_worker(worker_id)
            self._changes.emit("worker", worker_id, None)
        self._forget(worker["secret_hash"])
        self.release_node(worker_id)
        self._wakeups.lease_changed(worker_id)
        self._wakeups.queued()  # its held poll, if any, ends now

    def requeue_leased(self, worker_id: int, reason: str) -> None:
        """Inside a change: whatever the worker was rendering goes back to the queue."""
        for task in self._store.tasks_leased_to(worker_id):
            self._states.move(task, T.QUEUED, reason, outcome="lost")

    def go_offline(self, worker_id: int, reason: str) -> None:
        """Inside a change: the worker has gone (signed off, timed out)."""
        self.requeue_leased(worker_id, reason)
        self.release_node(worker_id)
        self._store.update_worker(worker_id, OFFLINE)
        self._changes.emit("worker", worker_id)

    def refresh_after_start(self) -> None:
        """Give every online worker a fresh timeout window after a manager restart.

        Their leases stay: a worker that comes back within worker_timeout goes on with
        its task and reports it; one that does not is timed out by the usual rule.
        """
        now = self._clock()
        with self._changes.change():
            for worker_id in self._store.online_workers():
                self._store.update_worker(worker_id, {"last_seen": now})
            # What a worker's row mirrors of its task is written behind: a crash can
            # leave it naming a task it no longer renders (store/workers.py).
            self._store.free_stale_current_tasks()
