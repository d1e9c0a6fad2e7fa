"""A worker that updates itself from its manager, between tasks (docs/self_update.md).

Every `--update-check` seconds, when no task runs and every report is delivered, the
worker reports its build (`PUT /workers/{id}/version`) and asks the manager what it
offers (`GET /downloads`). A newer build for this OS and architecture is:

1. downloaded beside the executable (same file system, so the swap is a rename),
   hashed while it arrives, and refused unless its SHA-256 is the one on offer;
2. run once with `--version`, and refused unless that exits 0 and names the program;
3. swapped in atomically (`os.replace`; on Windows the running file is renamed away
   first, as Windows cannot replace a running executable), the previous file kept as
   a hard link `NAME.previous` for a rollback;
4. re-executed with the same command line (`execv`: same pid, so a service manager
   sees no exit), after which the new build registers and reports its version.

Any failure before the swap leaves the old executable running as it was; a refused
offer is not downloaded again until the manager offers another file. A worker run
from a checkout never swaps anything: it only says that the manager is newer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flamenco_gui.platform_names import newer, version_key
from flamenco_gui.worker.build_identity import BuildIdentity, identify, remember
from flamenco_gui.worker.client import ManagerClient, ManagerUnreachable, TokenRefused

log = logging.getLogger(__name__)

VERSION_PATH = "/workers/{worker_id}/version"
SMOKE_TIMEOUT = 120.0
# Env var: a one-file executable started by another one (here: by exec) must unpack
# itself afresh instead of taking over its parent's unpacked files (PyInstaller >= 6.10).
RESET_ENV = "PYINSTALLER_RESET_ENVIRONMENT"


class UpdateInstalled(Exception):
    """The new build is in place: leave the loops and re-execute."""


@dataclass(frozen=True, slots=True)
class Offer:
    name: str
    version: str
    sha256: str
    url: str


def best_offer(builds: list[dict[str, Any]], me: BuildIdentity) -> Offer | None:
    """The newest build for this OS and architecture that is newer than this one."""
    fitting = [
        b
        for b in builds
        if isinstance(b, dict)
        and (b.get("platform"), b.get("arch")) == (me.os, me.arch)
        and isinstance(b.get("version"), str)
        and newer(b["version"], me.version)
    ]
    if not fitting:
        return None
    b = max(fitting, key=lambda b: version_key(b["version"]))
    return Offer(str(b["name"]), b["version"], str(b.get("sha256", "")).lower(), str(b["url"]))


def smoke_test(path: Path, timeout: float = SMOKE_TIMEOUT) -> str | None:
    """None if `path --version` answers like this program; otherwise what went wrong."""
    env = {**os.environ, RESET_ENV: "1"}
    try:
        done = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"it does not start here: {exc}"
    if done.returncode != 0 or not done.stdout.startswith("flamenco "):
        return f"`--version` exited {done.returncode}: {(done.stdout + done.stderr)[-300:]!r}"
    return None


def swap(staged: Path, executable: Path, windows: bool | None = None) -> Path:
    """Put `staged` where `executable` is, atomically; returns the previous file's new
    name. POSIX: a hard link keeps the old file, then `os.replace` swaps the name (the
    running process keeps its open inode). Windows: a running .exe can be renamed but
    not replaced, so it is moved aside first, then the new one moved in."""
    windows = os.name == "nt" if windows is None else windows
    previous = executable.with_name(executable.name + ".previous")
    previous.unlink(missing_ok=True)
    if windows:
        os.replace(executable, previous)
        try:
            os.replace(staged, executable)
        except OSError:
            os.replace(previous, executable)  # put the old one back
            raise
    else:
        os.link(executable, previous)
        os.replace(staged, executable)
    _sync_dir(executable.parent)
    return previous


def roll_back(executable: Path) -> None:
    previous = executable.with_name(executable.name + ".previous")
    if previous.exists():
        os.replace(previous, executable)


def reexec(executable: Path, argv: list[str] | None = None) -> None:
    """Become the new build with the same options (never returns unless it fails)."""
    args = [str(executable), *(sys.argv[1:] if argv is None else argv)]
    env = {**os.environ, RESET_ENV: "1"}
    log.info("restarting as the new build: %s", " ".join(args))
    logging.shutdown()
    if os.name == "nt":  # pragma: no cover - Windows has no exec that keeps the process
        subprocess.Popen(args, env=env)
        os._exit(0)
    os.execve(str(executable), args, env)


def _sync_dir(folder: Path) -> None:
    if os.name == "nt":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Updater:
    """Checks, downloads, verifies and swaps; the agent calls `between_tasks()`."""

    def __init__(
        self, client: ManagerClient, work_dir: Path, interval: float, executable: Path | None
    ) -> None:
        self._client = client
        self._work_dir = work_dir
        self._interval = interval
        self._executable = executable
        self._me: BuildIdentity | None = None
        self._next = 0.0
        self._refused: set[str] = set()
        self._told: str | None = None
        self._reported = False

    @property
    def enabled(self) -> bool:
        return self._interval > 0

    async def identity(self) -> BuildIdentity:
        if self._me is None:
            self._me = await asyncio.to_thread(identify, self._work_dir, self._executable)
        return self._me

    def check_now(self) -> None:
        """The manager asked ("update all"): check at the next moment between tasks,
        instead of at the next periodic check. Never mid-task: the agent only calls
        `between_tasks()` when nothing runs."""
        if not self.enabled:
            log.info("the manager asks for an update check, but checks are off (--update-check 0)")
            return
        self._next = 0.0

    async def between_tasks(self) -> None:
        """Check when due; raises `UpdateInstalled` once a new build is in place. With
        checks off, the version is still reported once, for the wrangler's table."""
        loop = asyncio.get_running_loop()
        try:
            if not self.enabled:
                if not self._reported:
                    await self._report(await self.identity())
                    self._reported = True  # once, taken or not: not repeated every pull
                return
            if loop.time() < self._next:
                return
            self._next = loop.time() + self._interval
            await self._check()
        except ManagerUnreachable as exc:
            log.debug("update check skipped: %s", exc)

    async def _report(self, me: BuildIdentity) -> None:
        reply = await self._client.call("PUT", VERSION_PATH, me.report())
        if reply.ok:
            self._reported = True
        else:
            log.debug("the manager did not take the version report: %s", reply.error)

    async def _check(self) -> None:
        me = await self.identity()
        await self._report(me)
        reply = await self._client.call("GET", "/downloads")
        if not reply.ok or not isinstance(reply.data, dict):
            return
        offer = best_offer(reply.data.get("builds") or [], me)
        if offer is None:
            return
        if me.executable is None:
            if self._told != offer.version:
                log.warning(
                    "manager is newer: it offers flamenco %s, this worker runs %s from a "
                    "checkout, which does not update itself (update the checkout)",
                    offer.version,
                    me.version,
                )
                self._told = offer.version
            return
        if offer.sha256 in self._refused:
            return
        await self._install(offer, me, me.executable)

    async def _install(self, offer: Offer, me: BuildIdentity, executable: Path) -> None:
        log.info(
            "manager offers flamenco %s (this worker runs %s): downloading %s",
            offer.version,
            me.version,
            offer.name,
        )
        staged = executable.with_name(f".{executable.name}.update-{os.getpid()}")
        try:
            try:
                got = await self._client.download(offer.url, staged)
            except (ManagerUnreachable, TokenRefused, OSError) as exc:
                log.warning("could not download %s, keeping %s: %s", offer.name, me.version, exc)
                return  # a broken transfer is tried again at the next check
            if got != offer.sha256:
                self._refused.add(offer.sha256)
                log.error(
                    "refused %s: its SHA-256 is %s, the manager said %s; keeping flamenco %s",
                    offer.name,
                    got,
                    offer.sha256,
                    me.version,
                )
                return
            staged.chmod(0o755)
            problem = await asyncio.to_thread(smoke_test, staged)
            if problem is not None:
                self._refused.add(offer.sha256)
                log.error("refused %s: %s; keeping flamenco %s", offer.name, problem, me.version)
                return
            swap(staged, executable)
        finally:
            with contextlib.suppress(OSError):
                staged.unlink(missing_ok=True)
        remember(self._work_dir, offer.version, offer.sha256)
        log.info("installed flamenco %s in %s", offer.version, executable)
        raise UpdateInstalled(offer.version)
