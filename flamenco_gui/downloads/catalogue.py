"""The builds a manager offers: its own one-file executable when it runs from one, and
whatever builds of other platforms the wrangler dropped into `<data dir>/downloads/`,
named `flamenco-VERSION-OS-ARCH[.exe]` as the release workflow names them.

Each build's SHA-256 is what a worker checks before it swaps itself. A `NAME.sha256`
file beside a build (the release's published checksum, `sha256sum` format) wins over
the hash of the file as it lies here: a build corrupted or replaced on the manager's
disk then fails the worker's check instead of being vouched for by its own hash.
Hashing 130 MB takes a moment, so hashes are cached by size and modification time and
computed off the event loop.
"""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flamenco_gui import __version__
from flamenco_gui.file_hash import file_sha256
from flamenco_gui.platform_names import arch_name, exe_suffix, os_name

NAME = re.compile(
    r"flamenco-(?P<version>[0-9][0-9A-Za-z.+]*)-(?P<os>linux|macos|windows)"
    r"-(?P<arch>[a-z0-9_]+)(?P<ext>\.exe)?"
)


@dataclass(frozen=True, slots=True)
class Build:
    name: str
    version: str
    os: str
    arch: str
    path: Path
    size: int
    sha256: str

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "platform": self.os,
            "arch": self.arch,
            "size": self.size,
            "sha256": self.sha256,
            "url": f"/downloads/{self.name}",
        }


def own_build_name() -> str:
    os = os_name()
    return f"flamenco-{__version__}-{os}-{arch_name()}{exe_suffix(os)}"


class Catalogue:
    """`executable` is this manager's own one-file build (None from a checkout)."""

    def __init__(self, folder: Path, executable: Path | None = None) -> None:
        self.folder = folder
        self.executable = executable
        self._hashes: dict[tuple[Path, int, int], str] = {}

    @classmethod
    def for_manager(cls, data_dir: Path) -> Catalogue:
        frozen = getattr(sys, "frozen", False)
        return cls(data_dir / "downloads", Path(sys.executable) if frozen else None)

    def _candidates(self) -> list[tuple[str, Path]]:
        found: dict[str, Path] = {}
        if self.executable is not None:
            found[own_build_name()] = self.executable
        if self.folder.is_dir():
            for path in sorted(self.folder.iterdir()):
                if NAME.fullmatch(path.name) and path.is_file():
                    found[path.name] = path
        return sorted(found.items())

    def _hash(self, path: Path) -> tuple[int, str]:
        stat = path.stat()
        sidecar = path.with_name(path.name + ".sha256")
        if sidecar.is_file():
            words = sidecar.read_text(encoding="utf-8", errors="replace").split()
            return stat.st_size, (words[0].lower() if words else "")
        key = (path, stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(path)
        return stat.st_size, self._hashes[key]

    def _scan(self) -> list[Build]:
        builds = []
        for name, path in self._candidates():
            match = NAME.fullmatch(name)
            assert match is not None
            try:
                size, sha = self._hash(path)
            except OSError:
                continue  # removed or unreadable meanwhile: not offered
            builds.append(
                Build(name, match["version"], match["os"], match["arch"], path, size, sha)
            )
        return builds

    async def builds(self) -> list[Build]:
        return await asyncio.to_thread(self._scan)

    async def find(self, name: str) -> Build | None:
        return next((b for b in await self.builds() if b.name == name), None)
