"""`--slots N`: N tasks at once on one machine (many cores, several GPUs).

Each slot is a worker agent of its own, a child process of this one: its own work dir
(`WORK_DIR/slot-K`, so its own identity, secret and outbox), named `NAME:K`, pulling
and leasing on its own. Leases, cancels, timeouts and the window then apply per slot
with no change to the manager, and a slot's task runs in its own process group as any
task does. Blender gets `--threads` set to this slot's share of the cores, and each
`--slot-env KEY=VALUE` (VALUE may name `{slot}`, 0-based: `CUDA_VISIBLE_DEVICES={slot}`)
goes into the environment of the slot's commands.

The parent only supervises: it passes SIGTERM/Ctrl+C on to the slots and exits when
they all have (0 when they all did).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger(__name__)


def thread_share(slots: int, cpus: int | None = None) -> int:
    """Blender threads for one of `slots` slots: an equal share of the cores, ≥ 1."""
    return max(1, (cpus or os.cpu_count() or 1) // max(1, slots))


def slot_env(templates: list[str], slot: int) -> tuple[tuple[str, str], ...]:
    """`KEY=VALUE` templates with `{slot}` (0-based) filled in; ValueError naming a bad one."""
    out = []
    for template in templates:
        key, sep, value = template.partition("=")
        if not sep or not key or not key.replace("_", "").isalnum():
            raise ValueError(f"--slot-env {template!r}: want KEY=VALUE, e.g. GPU={{slot}}")
        try:
            out.append((key, value.format(slot=slot)))
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"--slot-env {template!r}: only {{slot}} may be named") from None
    return tuple(out)


def supervise(slots: int) -> int:
    """Run this same command once per slot (with `--slot K`), until they all end."""
    base = [sys.executable, *sys.orig_argv[1:]]
    children = [subprocess.Popen([*base, "--slot", str(k)]) for k in range(1, slots + 1)]
    log.info("running %d slots: pids %s", slots, ", ".join(str(c.pid) for c in children))

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while any(c.poll() is None for c in children):
        time.sleep(0.2)
    codes = [c.returncode for c in children]
    return 0 if all(code == 0 for code in codes) else max(abs(c) for c in codes)
