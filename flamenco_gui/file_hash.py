"""SHA-256 of a file, read in pieces: builds are 100+ MB. Pure (imports nothing of
flamenco_gui), so the manager's downloads and the worker's self-update share it."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
