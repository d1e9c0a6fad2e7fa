"""The service manager of an OS: systemd (Linux), launchd (macOS), Task Scheduler
(Windows). The platform is a parameter so that every branch is tested on Linux."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from flamenco_gui.platform_names import os_name
from flamenco_gui.service.launchd import Launchd
from flamenco_gui.service.spec import (
    Query,
    Run,
    ServiceSpec,
    ServiceStatus,
    query_command,
    run_command,
)
from flamenco_gui.service.systemd import Systemd
from flamenco_gui.service.windows_task import ScheduledTask


class Backend(Protocol):
    unit_dir: Path

    def path(self, name: str) -> Path: ...
    def install(self, spec: ServiceSpec, enable: bool = True) -> list[list[str]]: ...
    def uninstall(self, name: str, enable: bool = True) -> list[list[str]]: ...
    def status(self, name: str) -> ServiceStatus: ...


def is_admin() -> bool:
    if os.name == "nt":  # pragma: no cover - Windows only
        import ctypes

        return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]
    return os.geteuid() == 0


def windows_user() -> str:
    domain = os.environ.get("USERDOMAIN", "")
    user = os.environ.get("USERNAME", "") or os.environ.get("USER", "")
    return f"{domain}\\{user}" if domain else user


def backend_for(
    platform: str,
    system: bool,
    unit_dir: Path | None,
    task_dir: Path,
    run: Run = run_command,
    query: Query = query_command,
) -> Backend:
    """`task_dir` keeps a Windows task's XML when no `unit_dir` is given."""
    name = os_name(platform)
    if name == "macos":
        return Launchd(system, unit_dir, run, query)
    if name == "windows":
        return ScheduledTask(system, unit_dir or task_dir, windows_user(), run, query)
    return Systemd(system, unit_dir, run, query)
