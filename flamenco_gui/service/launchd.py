"""A launchd agent for the worker or the headless manager (macOS).

A per-user agent in ~/Library/LaunchAgents, loaded into the user's GUI domain with
`launchctl bootstrap gui/UID` (or, as root with --system, a daemon in
/Library/LaunchDaemons in the `system` domain). `KeepAlive` restarts it when it exits
with an error, as systemd's `Restart=on-failure`. Written and golden-tested here; it has
not run on a Mac (docs/service.md).
"""

from __future__ import annotations

import os
import plistlib
from collections.abc import Sequence
from pathlib import Path

from flamenco_gui.service.spec import (
    Query,
    Run,
    ServiceSpec,
    ServiceStatus,
    query_command,
    run_command,
)

SYSTEM_DIR = Path("/Library/LaunchDaemons")


def label(name: str) -> str:
    """`flamenco-worker` → `org.flamenco.flamenco-worker` (reverse-DNS, as launchd wants)."""
    return f"org.flamenco.{name}"


def plist_bytes(spec: ServiceSpec, system: bool) -> bytes:
    body: dict[str, object] = {
        "Label": label(spec.name),
        "ProgramArguments": list(spec.argv),
        "WorkingDirectory": str(spec.work_dir),
        "RunAtLoad": True,
        # Restarted unless it exited 0 (a deliberate stop); at most every 10 s.
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "StandardOutPath": str(spec.work_dir / "service.log"),
        "StandardErrorPath": str(spec.work_dir / "service.log"),
        "ProcessType": "Standard",
    }
    if system and spec.run_as:
        body["UserName"] = spec.run_as
    return plistlib.dumps(body, sort_keys=True)


class Launchd:
    def __init__(
        self,
        system: bool,
        unit_dir: Path | None = None,
        run: Run = run_command,
        query: Query = query_command,
        uid: int | None = None,
    ) -> None:
        self.system = system
        self.unit_dir = unit_dir or (
            SYSTEM_DIR if system else Path.home() / "Library" / "LaunchAgents"
        )
        self._run = run
        self._query = query
        self._uid = os.getuid() if uid is None and hasattr(os, "getuid") else (uid or 0)

    @property
    def domain(self) -> str:
        return "system" if self.system else f"gui/{self._uid}"

    def path(self, name: str) -> Path:
        return self.unit_dir / f"{label(name)}.plist"

    def install(self, spec: ServiceSpec, enable: bool = True) -> list[list[str]]:
        path = self.path(spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(plist_bytes(spec, self.system))
        tmp.replace(path)
        commands = [
            # A reinstall replaces a loaded agent: unload it first (failure is fine).
            ["launchctl", "bootout", f"{self.domain}/{label(spec.name)}"],
            ["launchctl", "bootstrap", self.domain, str(path)],
        ]
        if enable:
            self._run(commands[0])
            self._check(commands[1])
        return commands

    def uninstall(self, name: str, enable: bool = True) -> list[list[str]]:
        commands = [["launchctl", "bootout", f"{self.domain}/{label(name)}"]]
        if enable:
            self._run(commands[0])
        self.path(name).unlink(missing_ok=True)
        return commands

    def status(self, name: str) -> ServiceStatus:
        path = self.path(name)
        try:
            code, out = self._query(["launchctl", "print", f"{self.domain}/{label(name)}"])
        except OSError as exc:
            return ServiceStatus(path.exists(), None, path, f"launchctl: {exc.strerror}")
        if code != 0:
            return ServiceStatus(path.exists(), False, path, "not loaded")
        running = "state = running" in out
        return ServiceStatus(path.exists(), running, path, "running" if running else "loaded")

    def _check(self, argv: Sequence[str]) -> None:
        if self._run(argv) != 0:
            raise OSError(f"{' '.join(argv)} failed")
