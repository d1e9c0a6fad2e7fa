"""The manager's content-addressed file store: job files (and frames on their way to
the output folder) kept by their SHA-256, in a folder of the data dir.

    files/objects/ab/abcdef…   a verified file, named by its hash
    files/partial/abcdef…      an upload under way (or cut short): resumed at its size

A file is written to `partial/` and moved into `objects/` only once its bytes hash to
its name, so anything under `objects/` is whole and right. Every method does blocking
file I/O: the farm calls them on a thread (farm/file_store.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


class HashMismatch(Exception):
    """The bytes uploaded for a hash are not that hash's bytes (the partial is gone)."""


@dataclass(slots=True)
class Upload:
    """One upload's partial file, open for appending, with the hash of what it holds."""

    sha256: str
    size: int
    path: Path
    offset: int
    digest: hashlib._Hash
    handle: BinaryIO

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.offset += len(data)

    def hash(self, data: bytes) -> None:
        """Separate from `write`, so the two can run at once (flamenco_gui/file_pipe.py)."""
        self.digest.update(data)

    def close(self) -> None:
        self.handle.close()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.partial = root / "partial"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.partial.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.objects / sha256[:2] / sha256

    def stored_size(self, sha256: str) -> int | None:
        """The size of a verified file, or None when it is not stored."""
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def partial_size(self, sha256: str) -> int:
        """How many bytes of an upload are held (0 when none): where it resumes."""
        try:
            return (self.partial / sha256).stat().st_size
        except FileNotFoundError:
            return 0

    def open_upload(self, sha256: str, size: int) -> Upload:
        """The partial file for appending, its held bytes already hashed (a resume reads
        them once; a first upload reads nothing)."""
        path = self.partial / sha256
        digest = hashlib.sha256()
        offset = 0
        if path.exists():
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
                    offset += len(chunk)
        return Upload(sha256, size, path, offset, digest, path.open("ab"))

    def finish(self, upload: Upload) -> None:
        """Keep a complete upload if its bytes hash to its name; otherwise drop it."""
        upload.close()
        if upload.digest.hexdigest() != upload.sha256:
            upload.path.unlink(missing_ok=True)
            raise HashMismatch(
                f"the {upload.offset} bytes received hash to {upload.digest.hexdigest()},"
                f" not {upload.sha256}"
            )
        final = self.path(upload.sha256)
        final.parent.mkdir(exist_ok=True)
        os.replace(upload.path, final)

    def discard(self, sha256: str) -> None:
        (self.partial / sha256).unlink(missing_ok=True)

    def remove(self, sha256: str) -> int:
        """Delete a stored file; the bytes freed (0 if it was not there)."""
        path = self.path(sha256)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def place(self, sha256: str, target: Path) -> None:
        """Put a stored file at `target` (a hard link on the same disk, else a copy,
        written beside it and renamed, so the target is never half a file), then take it
        out of the store: a frame's bytes are kept once, in the output folder."""
        source = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{sha256[:12]}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        source.unlink(missing_ok=True)

    def older_than(self, age: float) -> Iterator[tuple[str, int]]:
        """Stored files not touched for `age` seconds: (hash, size)."""
        cutoff = time.time() - age
        for folder in self.objects.iterdir():
            for path in folder.iterdir():
                st = path.stat()
                if SHA256.match(path.name) and st.st_mtime < cutoff:
                    yield path.name, st.st_size

    def drop_stale_partials(self, age: float) -> int:
        """Uploads abandoned for `age` seconds: nobody is coming back for them."""
        cutoff = time.time() - age
        freed = 0
        for path in self.partial.iterdir():
            st = path.stat()
            if st.st_mtime < cutoff:
                path.unlink(missing_ok=True)
                freed += st.st_size
        return freed

    def used_bytes(self) -> int:
        """Disk used by the store (stored and partial files), counted once at start."""
        total = 0
        for folder in (self.objects, self.partial):
            for dirpath, _dirs, files in os.walk(folder):
                for name in files:
                    try:
                        total += os.stat(os.path.join(dirpath, name)).st_size
                    except FileNotFoundError:
                        continue
        return total

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def touch(self, sha256: str) -> None:
        """A job (re)uses the file: its grace period starts again."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path(sha256))
