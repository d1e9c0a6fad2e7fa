"""The worker's side of remote control (farm/worker_control.py): the wrangler's request
arrives in a pull or lease-watch answer; the agent acknowledges it in its next report
and carries it out once it runs nothing ("now" requests: the manager has requeued the
task already, so the watch kills it first).

A restart leaves a note in the work dir so that the restarted agent, the same worker
(its id and secret are in the work dir), says "done" in its first report. Shutdown and
reboot run the platform's power command (an argv list, `--power-command` to override)
only if the node's owner started the worker with `--allow-power`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
RESTART_NOTE = "control-restart.json"

_POWER = {
    "linux": {"shutdown": ["systemctl", "poweroff"], "reboot": ["systemctl", "reboot"]},
    "darwin": {"shutdown": ["shutdown", "-h", "now"], "reboot": ["shutdown", "-r", "now"]},
    "win32": {"shutdown": ["shutdown", "/s", "/t", "0"], "reboot": ["shutdown", "/r", "/t", "0"]},
}


def power_argv(action: str, prefix: list[str] | None, platform: str = sys.platform) -> list[str]:
    """The command for `shutdown` or `reboot`: `prefix + [action]` when the owner gave
    `--power-command`, else the platform's own."""
    if prefix:
        return [*prefix, action]
    table = _POWER.get(platform) or _POWER["linux"]
    return list(table[action])


def parse_power_command(given: str | None) -> list[str] | None:
    """`--power-command '["sudo", "/usr/local/bin/power"]'`: a JSON argv list."""
    if not given:
        return None
    try:
        argv = json.loads(given)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--power-command: not JSON ({exc.msg})") from None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError('--power-command: a JSON list of strings, e.g. ["sudo", "power"]')
    return argv


class RemoteControl:
    """The request in hand and the acknowledgement still to send."""

    def __init__(self, work_dir: Path) -> None:
        self._note = work_dir / RESTART_NOTE
        self.pending: dict[str, Any] | None = None
        self._to_send: tuple[int, str] | None = None
        self._said: tuple[int, str] | None = None
        try:
            restarted = json.loads(self._note.read_text(encoding="utf-8"))
            self._to_send = (int(restarted["id"]), "done")
            self._note.unlink()
            log.info("restarted at the wrangler's request")
        except (OSError, ValueError, KeyError, TypeError):
            pass

    def see(self, control: Any) -> bool:
        """An answer's `control`; True for a request this worker had not seen."""
        if not isinstance(control, dict) or "id" not in control:
            self.pending = None
            return False
        if self.pending is not None and self.pending["id"] == control["id"]:
            return False
        self.pending = control
        log.info("wrangler asks: %s %s", control.get("action"), control.get("when"))
        self.say("acknowledged")
        return True

    def say(self, state: str) -> None:
        """Acknowledge the request in hand with `state` (once: saying it again is a no-op)."""
        if self.pending is not None and self._said != (int(self.pending["id"]), state):
            self._to_send = self._said = (int(self.pending["id"]), state)

    def fields(self) -> dict[str, Any]:
        """What the next report carries."""
        if self._to_send is None:
            return {}
        return {"control_ack": {"id": self._to_send[0], "state": self._to_send[1]}}

    def sent(self, fields: dict[str, Any]) -> None:
        """The manager took the report that carried `fields`."""
        ack = fields.get("control_ack")
        if ack is not None and self._to_send == (ack["id"], ack["state"]):
            self._to_send = None

    def leave_restart_note(self) -> None:
        if self.pending is not None:
            self._note.write_text(json.dumps({"id": self.pending["id"]}), encoding="utf-8")


async def run_power(argv: list[str]) -> int:
    """Run the power command (never a shell); its exit code."""
    log.warning("running the power command: %s", argv)

    def run() -> int:
        try:
            return subprocess.run(argv, check=False, stdin=subprocess.DEVNULL).returncode
        except OSError as exc:
            log.error("could not run %s: %s", argv[0], exc)
            return 127

    return await asyncio.to_thread(run)
