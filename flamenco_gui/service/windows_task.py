"""A Scheduled Task for the worker or the headless manager (Windows).

Task Scheduler rather than a Windows service: a service must speak the service control
protocol (pywin32 or a wrapper such as NSSM), a task runs any program. Per user it
starts at the user's logon, in their session; system-wide (an elevated prompt,
--system) at boot as SYSTEM, or as --service-user. The task definition is Task
Scheduler XML (schema 1.2), registered with `schtasks /Create /XML`. Written and
golden-tested here; it has not run on Windows (docs/service.md).

Limitation: Task Scheduler's "restart on failure" retries a task that fails to
*start*; a worker that starts and later exits with an error is started again at the
next logon or boot, not at once as under systemd or launchd.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from flamenco_gui.service.spec import (
    Query,
    Run,
    ServiceSpec,
    ServiceStatus,
    query_command,
    run_command,
)

FOLDER = "\\Flamenco\\"
SYSTEM_SID = "S-1-5-18"


def task_name(name: str) -> str:
    return FOLDER + name


def task_xml(spec: ServiceSpec, system: bool, user: str) -> str:
    """The task definition. `user` is DOMAIN\\name for a per-user task (or --service-user)."""
    command, *args = spec.argv
    arguments = subprocess.list2cmdline(args)  # Windows' own quoting rules
    if system and not spec.run_as:
        trigger = "    <BootTrigger>\n      <Enabled>true</Enabled>\n    </BootTrigger>"
        principal = (
            f"      <UserId>{SYSTEM_SID}</UserId>\n      <RunLevel>HighestAvailable</RunLevel>"
        )
    else:
        account = escape(spec.run_as if system and spec.run_as else user)
        trigger = (
            "    <LogonTrigger>\n      <Enabled>true</Enabled>\n"
            f"      <UserId>{account}</UserId>\n    </LogonTrigger>"
        )
        principal = (
            f"      <UserId>{account}</UserId>\n      <LogonType>InteractiveToken</LogonType>\n"
            "      <RunLevel>LeastPrivilege</RunLevel>"
        )
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>{escape(spec.description)}</Description>
    <URI>{escape(task_name(spec.name))}</URI>
  </RegistrationInfo>
  <Triggers>
{trigger}
  </Triggers>
  <Principals>
    <Principal id="Author">
{principal}
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(command)}</Command>
      <Arguments>{escape(arguments)}</Arguments>
      <WorkingDirectory>{escape(str(spec.work_dir))}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"""


class ScheduledTask:
    """`unit_dir` is where the XML is kept (schtasks reads it from there)."""

    def __init__(
        self,
        system: bool,
        unit_dir: Path,
        user: str,
        run: Run = run_command,
        query: Query = query_command,
    ) -> None:
        self.system = system
        self.unit_dir = unit_dir
        self.user = user
        self._run = run
        self._query = query

    def path(self, name: str) -> Path:
        return self.unit_dir / f"{name}.task.xml"

    def install(self, spec: ServiceSpec, enable: bool = True) -> list[list[str]]:
        path = self.path(spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(task_xml(spec, self.system, self.user), encoding="utf-16")
        name = task_name(spec.name)
        commands = [
            ["schtasks", "/Create", "/TN", name, "/XML", str(path), "/F"],
            ["schtasks", "/Run", "/TN", name],
        ]
        if enable:
            self._check(commands)
        return commands

    def uninstall(self, name: str, enable: bool = True) -> list[list[str]]:
        commands = [
            ["schtasks", "/End", "/TN", task_name(name)],
            ["schtasks", "/Delete", "/TN", task_name(name), "/F"],
        ]
        if enable:
            self._run(commands[0])  # not running is fine
            self._check(commands[1:])
        self.path(name).unlink(missing_ok=True)
        return commands

    def status(self, name: str) -> ServiceStatus:
        path = self.path(name)
        try:
            code, out = self._query(["schtasks", "/Query", "/TN", task_name(name), "/FO", "LIST"])
        except OSError as exc:
            return ServiceStatus(path.exists(), None, path, f"schtasks: {exc.strerror}")
        if code != 0:
            return ServiceStatus(False, False, path, "no such task")
        running = "Running" in out
        return ServiceStatus(True, running, path, "running" if running else "ready")

    def _check(self, commands: Sequence[list[str]]) -> None:
        for argv in commands:
            if self._run(argv) != 0:
                raise OSError(f"{' '.join(argv)} failed")
