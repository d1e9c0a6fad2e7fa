"""Who this worker is: a random id generated on first start, kept in its work dir.

The hostname is only a label (render nodes cloned from one image share it), so the
manager knows a worker by this id and its secret. The *node* is where this process
runs (the machine's boot and the work dir's path, hashed): the same identity reporting
from two nodes at once is a copied work dir, which the manager refuses (farm/workers.py).
`flamenco worker --reset-identity` forgets id and secret so the node starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

IDENTITY_FILE = "identity.json"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def load_or_create(work_dir: Path) -> str:
    """This worker's id; generated (and stored) the first time."""
    path = work_dir / IDENTITY_FILE
    try:
        return str(uuid.UUID(json.loads(path.read_text(encoding="utf-8"))["uuid"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    work_dir.mkdir(parents=True, exist_ok=True)
    new = str(uuid.uuid4())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"uuid": new}), encoding="utf-8")
    os.replace(tmp, path)
    return new


def reset(work_dir: Path, files: tuple[str, ...]) -> list[Path]:
    """Forget the id and the credentials (`files`): the next start is a new worker."""
    removed = []
    for name in (IDENTITY_FILE, *files):
        path = work_dir / name
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def _boot() -> str:
    """Differs between two machines booted from one image (and across reboots)."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:  # not Linux: the machine's MAC address and name
        return f"{uuid.getnode():x}-{os.environ.get('COMPUTERNAME') or os.uname().nodename}"


def node_id(work_dir: Path) -> str:
    """Where this process runs, hashed (the manager learns nothing but equality)."""
    where = f"{_boot()}\n{work_dir.resolve()}"
    return hashlib.sha256(where.encode()).hexdigest()[:32]
