"""Which build this worker runs: what it reports to the manager and compares with the
builds on offer.

From a checkout it is simply `__version__`. From the one-file executable it is the
version under which the manager offered the build this worker last installed, as long
as the executable is still that file (same SHA-256): `<work-dir>/build.json` keeps
`{"version", "sha256"}` from the update. The manager's label and `__version__` agree
for every real release; they differ only when a wrangler serves a build under another
name, and then the worker must not update to the same offer again and again.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flamenco_gui import __version__
from flamenco_gui.file_hash import file_sha256
from flamenco_gui.platform_names import arch_name, os_name

RECORD_FILE = "build.json"


@dataclass(frozen=True, slots=True)
class BuildIdentity:
    version: str
    os: str
    arch: str
    executable: Path | None  # the one-file executable; None from a checkout
    sha256: str | None

    @property
    def frozen(self) -> bool:
        return self.executable is not None

    def report(self) -> dict[str, Any]:
        """The body of `PUT /workers/{id}/version`."""
        return {
            "version": self.version,
            "platform": self.os,
            "arch": self.arch,
            "frozen": self.frozen,
            "sha256": self.sha256,
        }


def own_executable() -> Path | None:
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve()
    return None


def identify(work_dir: Path, executable: Path | None) -> BuildIdentity:
    """Hashes the executable (blocking: call it in a thread)."""
    if executable is None:
        return BuildIdentity(__version__, os_name(), arch_name(), None, None)
    sha = file_sha256(executable)
    version = __version__
    record = _load(work_dir / RECORD_FILE)
    if record is not None and record.get("sha256") == sha:
        version = str(record.get("version") or __version__)
    return BuildIdentity(version, os_name(), arch_name(), executable, sha)


def remember(work_dir: Path, version: str, sha256: str) -> None:
    """Written, atomically, right after the swap and before the re-exec."""
    path = work_dir / RECORD_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"version": version, "sha256": sha256}), encoding="utf-8")
    os.replace(tmp, path)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
