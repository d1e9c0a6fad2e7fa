"""The service definitions each OS gets, and the commands that enable them.

macOS and Windows cannot run here: their writers are checked by the files they produce
(golden files in tests/golden/, reviewed by hand when they change) and the launchctl /
schtasks argv lists, recorded instead of run. The Linux unit is also checked by
`systemd-analyze verify` (Debian's systemd), and runs for real in
tests/e2e/test_service_install.py. Nothing here enables anything on this machine.
"""

from __future__ import annotations

import plistlib
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from flamenco_gui.platform_names import os_name
from flamenco_gui.service.backends import backend_for
from flamenco_gui.service.launchd import Launchd
from flamenco_gui.service.spec import ServiceSpec
from flamenco_gui.service.systemd import Systemd, quote, unit_text
from flamenco_gui.service.windows_task import ScheduledTask, task_xml

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
POSIX_SPEC = ServiceSpec(
    "flamenco-worker",
    "Flamenco render worker",
    [
        "/opt/flamenco/flamenco",
        "worker",
        "--work-dir",
        "/var/lib/flamenco worker",
        "--name",
        "node 7",
    ],
    Path("/var/lib/flamenco worker"),
)
WINDOWS_SPEC = ServiceSpec(
    "flamenco-worker",
    "Flamenco render worker",
    [
        r"C:\Program Files\Flamenco\flamenco.exe",
        "worker",
        "--work-dir",
        r"C:\Users\render\AppData\Local\flamenco-worker",
        "--name",
        'node "7"',
    ],
    Path(r"C:\Users\render\AppData\Local\flamenco-worker"),
)


class Recorder:
    """Stands in for systemctl/launchctl/schtasks: records each argv, answers 0."""

    def __init__(self, answer: tuple[int, str] = (0, "")) -> None:
        self.calls: list[list[str]] = []
        self.answer = answer

    def run(self, argv: Sequence[str]) -> int:
        self.calls.append(list(argv))
        return 0

    def query(self, argv: Sequence[str]) -> tuple[int, str]:
        self.calls.append(list(argv))
        return self.answer


def systemd_words(exec_start: str) -> list[str]:
    """ExecStart back to argv, for the words these tests use (quotes, %% and $$)."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(exec_start)]


@pytest.mark.parametrize(
    "arg",
    ["/usr/bin/flamenco", "with space", 'a"quote', "50%", "$HOME", "back\\slash", "ünï"],
)
def test_exec_start_words_survive_systemd_quoting(arg: str) -> None:
    assert systemd_words(quote(arg)) == [arg]


def test_system_unit_has_restart_network_and_no_credential(tmp_path: Path) -> None:
    text = unit_text(POSIX_SPEC, system=True)
    assert "Restart=on-failure" in text
    assert "After=network-online.target" in text and "Wants=network-online.target" in text
    assert "WantedBy=multi-user.target" in text
    assert "--token" not in text and "FLAMENCO_TOKEN" not in text
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert systemd_words(exec_start.removeprefix("ExecStart=")) == POSIX_SPEC.argv
    user_text = unit_text(POSIX_SPEC, system=False)
    assert "WantedBy=default.target" in user_text


def test_run_as_is_only_for_system_units() -> None:
    spec = ServiceSpec(**{**_fields(POSIX_SPEC), "run_as": "render"})
    assert "User=render" in unit_text(spec, system=True)
    assert "User=" not in unit_text(spec, system=False)


def _fields(spec: ServiceSpec) -> dict:
    return {name: getattr(spec, name) for name in spec.__slots__}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs Debian's systemd")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    exe = tmp_path / "flamenco"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    spec = ServiceSpec(
        "flamenco-worker",
        "Flamenco render worker",
        [str(exe), "worker", "--work-dir", str(tmp_path)],
        tmp_path,
    )
    Systemd(system=True, unit_dir=tmp_path / "units").install(spec, enable=False)
    unit = tmp_path / "units" / "flamenco-worker.service"
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr, done.stderr
    # The check is real: a unit whose program does not exist fails it.
    exe.unlink()
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0 and "not executable" in done.stderr


def test_systemctl_commands_for_system_and_user(tmp_path: Path) -> None:
    rec = Recorder()
    system = Systemd(system=True, unit_dir=tmp_path / "s", run=rec.run, query=rec.query)
    system.install(POSIX_SPEC)
    assert rec.calls == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "flamenco-worker.service"],
    ]
    assert (tmp_path / "s" / "flamenco-worker.service").exists()
    rec.calls.clear()
    user = Systemd(system=False, unit_dir=tmp_path / "u", run=rec.run, query=rec.query)
    user.install(POSIX_SPEC)
    user.uninstall("flamenco-worker")
    assert rec.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "flamenco-worker.service"],
        ["systemctl", "--user", "disable", "--now", "flamenco-worker.service"],
        ["systemctl", "--user", "daemon-reload"],
    ]
    assert not (tmp_path / "u" / "flamenco-worker.service").exists()


def test_not_enabling_runs_nothing(tmp_path: Path) -> None:
    rec = Recorder()
    commands = Systemd(True, tmp_path, rec.run, rec.query).install(POSIX_SPEC, enable=False)
    assert rec.calls == [] and commands[-1][-1] == "flamenco-worker.service"


@pytest.mark.parametrize(
    ("answer", "running"),
    [
        ((0, "active\n"), True),
        ((3, "inactive\n"), False),
        ((3, "failed\n"), False),
        ((1, "System has not been booted with systemd\n"), None),
    ],
)
def test_systemd_status(tmp_path: Path, answer: tuple[int, str], running: bool | None) -> None:
    rec = Recorder(answer)
    backend = Systemd(True, tmp_path, rec.run, rec.query)
    backend.install(POSIX_SPEC, enable=False)
    status = backend.status("flamenco-worker")
    assert status.installed and status.running is running
    assert rec.calls == [["systemctl", "is-active", "flamenco-worker.service"]]


def test_launchd_plist_matches_golden(tmp_path: Path) -> None:
    rec = Recorder()
    agent = Launchd(system=False, unit_dir=tmp_path, run=rec.run, query=rec.query, uid=501)
    agent.install(POSIX_SPEC)
    path = tmp_path / "org.flamenco.flamenco-worker.plist"
    assert path.read_bytes() == (GOLDEN / "org.flamenco.flamenco-worker.plist").read_bytes()
    plist = plistlib.loads(path.read_bytes())
    assert plist["ProgramArguments"] == POSIX_SPEC.argv
    assert plist["KeepAlive"] == {"SuccessfulExit": False} and plist["RunAtLoad"] is True
    assert rec.calls == [
        ["launchctl", "bootout", "gui/501/org.flamenco.flamenco-worker"],
        ["launchctl", "bootstrap", "gui/501", str(path)],
    ]
    rec.calls.clear()
    agent.uninstall("flamenco-worker")
    assert rec.calls == [["launchctl", "bootout", "gui/501/org.flamenco.flamenco-worker"]]
    assert not path.exists()


def test_launchd_status(tmp_path: Path) -> None:
    rec = Recorder((0, "gui/501/org.flamenco.flamenco-worker = {\n\tstate = running\n"))
    agent = Launchd(False, tmp_path, rec.run, rec.query, uid=501)
    assert agent.status("flamenco-worker").running is True
    assert rec.calls == [["launchctl", "print", "gui/501/org.flamenco.flamenco-worker"]]
    rec.answer = (113, "")
    assert agent.status("flamenco-worker").running is False


def test_windows_task_xml_matches_golden(tmp_path: Path) -> None:
    rec = Recorder()
    task = ScheduledTask(False, tmp_path, r"STUDIO\render", rec.run, rec.query)
    task.install(WINDOWS_SPEC)
    path = tmp_path / "flamenco-worker.task.xml"
    text = path.read_text(encoding="utf-16")
    assert text == (GOLDEN / "flamenco-worker.task.xml").read_text(encoding="utf-8")
    # Windows' own quoting of the arguments (CommandLineToArgvW rules).
    assert '--name "node \\"7\\""</Arguments>' in text
    assert rec.calls == [
        ["schtasks", "/Create", "/TN", "\\Flamenco\\flamenco-worker", "/XML", str(path), "/F"],
        ["schtasks", "/Run", "/TN", "\\Flamenco\\flamenco-worker"],
    ]
    rec.calls.clear()
    task.uninstall("flamenco-worker")
    assert rec.calls == [
        ["schtasks", "/End", "/TN", "\\Flamenco\\flamenco-worker"],
        ["schtasks", "/Delete", "/TN", "\\Flamenco\\flamenco-worker", "/F"],
    ]


def test_windows_system_task_runs_as_system_at_boot() -> None:
    xml = task_xml(WINDOWS_SPEC, system=True, user=r"STUDIO\admin")
    assert "<BootTrigger>" in xml and "<UserId>S-1-5-18</UserId>" in xml
    assert "LogonTrigger" not in xml


@pytest.mark.parametrize(
    ("platform", "kind"),
    [("linux", Systemd), ("darwin", Launchd), ("win32", ScheduledTask)],
)
def test_backend_per_platform(tmp_path: Path, platform: str, kind: type) -> None:
    assert isinstance(backend_for(platform, False, tmp_path, tmp_path), kind)
    assert os_name(platform) in ("linux", "macos", "windows")
