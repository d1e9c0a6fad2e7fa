"""The node's figures, named exactly as the 2015 manager API reports them.

psutil calls read /proc and can take milliseconds on a loaded render node, so the
agent samples through `collect_async` (a worker thread) to keep its loop responsive.
"""

from __future__ import annotations

import asyncio
import platform
import socket
import uuid
from pathlib import Path
from typing import Any

import psutil

from flamenco_gui.worker.network import wake_addresses


def system() -> str:
    """`"Linux 6.1.0-13-amd64"`: the seed's `system` field."""
    return f"{platform.system()} {platform.release()}"


def collect(disk_path: Path) -> dict[str, Any]:
    """One sample of everything the seed's `GET /workers/{id}` shows.

    `worker_cpu_percent` is the whole machine's CPU use since the previous call
    (interval=None never sleeps); the very first call reports 0.0.
    `worker_disk_percent` is for the filesystem holding `disk_path` (the work dir).
    """
    one, five, fifteen = psutil.getloadavg()
    return {
        "hostname": socket.gethostname(),
        "system": system(),
        # The seed sent one MAC as an integer (uuid.getnode); this worker sends each of
        # its interfaces' MACs, comma-separated, for Wake-on-LAN (network.py).
        "mac_address": ",".join(wake_addresses()[0]) or uuid.getnode(),
        "update_frequent": {
            "load_average": {"1min": one, "5min": five, "15min": fifteen},
            "worker_cpu_percent": psutil.cpu_percent(interval=None),
        },
        "update_less_frequent": {
            "worker_architecture": platform.machine(),
            "worker_disk_percent": psutil.disk_usage(str(disk_path)).percent,
            "worker_mem_percent": psutil.virtual_memory().percent,
            "worker_num_cpus": psutil.cpu_count(),
        },
    }


async def collect_async(disk_path: Path) -> dict[str, Any]:
    """`collect` off the event loop."""
    return await asyncio.to_thread(collect, disk_path)


def heartbeat_fields(sample: dict[str, Any]) -> dict[str, Any]:
    """The part of a sample that `PATCH /workers/{id}` carries."""
    keys = ("mac_address", "update_frequent", "update_less_frequent")
    return {key: sample[key] for key in keys}
