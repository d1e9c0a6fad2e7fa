"""A systemd unit for the worker or the headless manager (Linux).

System-wide (root: /etc/systemd/system, `WantedBy=multi-user.target`) or per user
(`systemctl --user`: ~/.config/systemd/user, `WantedBy=default.target`; it runs while
the user is logged in unless `loginctl enable-linger` says otherwise). The unit carries
no credential: the worker reads its own secret from its work dir, the manager its token
from its data dir.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from flamenco_gui.service.spec import (
    EXIT_NO_RESTART,
    Query,
    Run,
    ServiceSpec,
    ServiceStatus,
    query_command,
    run_command,
)

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
# Characters systemd takes literally in ExecStart (besides `%` and `$`, escaped below).
_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


def user_unit_dir() -> Path:
    return Path.home() / ".config" / "systemd" / "user"


def quote(arg: str) -> str:
    """One ExecStart word: `%` (specifiers) and `$` (variables) doubled, and anything
    beyond plain characters in double quotes with C-style escapes, as systemd.service(5)
    reads them."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN.fullmatch(arg):
        return escaped
    escaped = escaped.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def unit_text(spec: ServiceSpec, system: bool) -> str:
    lines = [
        "# Written by `flamenco ... install-service`; removed by `uninstall-service`.",
        "[Unit]",
        f"Description={spec.description}",
        # The worker calls the manager at once; a node booting must have its network.
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={' '.join(quote(a) for a in spec.argv)}",
        f"WorkingDirectory={quote(str(spec.work_dir))}",
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        "RestartSec=10",
        f"RestartPreventExitStatus={EXIT_NO_RESTART}",
        # SIGTERM to the agent alone: it stops its render, says goodbye and exits;
        # whatever is left of the render's process group is killed after the timeout.
        "KillMode=mixed",
        "TimeoutStopSec=20",
    ]
    if system and spec.run_as:
        lines.append(f"User={spec.run_as}")
    lines += [
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if system else 'default.target'}",
        "",
    ]
    return "\n".join(lines)


class Systemd:
    def __init__(
        self,
        system: bool,
        unit_dir: Path | None = None,
        run: Run = run_command,
        query: Query = query_command,
    ) -> None:
        self.system = system
        self.unit_dir = unit_dir or (SYSTEM_UNIT_DIR if system else user_unit_dir())
        self._run = run
        self._query = query

    def path(self, name: str) -> Path:
        return self.unit_dir / f"{name}.service"

    def _systemctl(self, *args: str) -> list[str]:
        return ["systemctl", *([] if self.system else ["--user"]), *args]

    def install(self, spec: ServiceSpec, enable: bool = True) -> list[list[str]]:
        """Write the unit atomically; then reload systemd and enable + start it, unless
        `enable` is False. Returns the commands to run (run already when `enable`)."""
        path = self.path(spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(unit_text(spec, self.system), encoding="utf-8")
        tmp.replace(path)
        commands = [
            self._systemctl("daemon-reload"),
            self._systemctl("enable", "--now", f"{spec.name}.service"),
        ]
        return self._maybe_run(commands, enable)

    def uninstall(self, name: str, enable: bool = True) -> list[list[str]]:
        """Stop and disable the unit, then remove its file."""
        commands = [self._systemctl("disable", "--now", f"{name}.service")]
        done = self._maybe_run(commands, enable)
        self.path(name).unlink(missing_ok=True)
        reload = [self._systemctl("daemon-reload")]
        return done + self._maybe_run(reload, enable)

    def status(self, name: str) -> ServiceStatus:
        path = self.path(name)
        try:
            code, out = self._query(self._systemctl("is-active", f"{name}.service"))
        except OSError as exc:  # no systemctl at all
            return ServiceStatus(path.exists(), None, path, f"systemctl: {exc.strerror}")
        state = out.strip()
        if state in ("active", "activating", "reloading"):
            return ServiceStatus(path.exists(), True, path, state)
        if state in ("inactive", "failed", "deactivating"):
            return ServiceStatus(path.exists(), False, path, state)
        return ServiceStatus(path.exists(), None, path, state or f"systemctl exited {code}")

    def _maybe_run(self, commands: Sequence[list[str]], enable: bool) -> list[list[str]]:
        if enable:
            for argv in commands:
                if self._run(argv) != 0:
                    raise OSError(f"{' '.join(argv)} failed")
        return list(commands)
