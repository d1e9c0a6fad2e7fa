"""Where the manager keeps its data, its farm token, and the URL workers should use."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import psutil

APP_NAME = "flamenco-manager"
DEFAULT_PORT = 7777  # the 2015 manager's port
TOKEN_FILE = "token"
VIEWER_TOKEN_FILE = "viewer-token"
FARM_ID_FILE = "farm-id"


def default_data_dir() -> Path:
    """The platform's per-user app-data folder (platformdirs knows all three OSes)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def load_or_create_token(data_dir: Path, explicit: str | None = None) -> str:
    """--token wins, then $FLAMENCO_TOKEN, then the stored token; else a new one is stored."""
    if explicit:
        return explicit
    if env := os.environ.get("FLAMENCO_TOKEN"):
        return env
    path = data_dir / TOKEN_FILE
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    return rotate_token(data_dir)


def load_or_create_farm_id(data_dir: Path) -> str:
    """This farm's id (`XXXX-XXXX-XXXX-XXXX`), made once: workers pin it when they
    register, and refuse a discovered manager with another (api/routes_identity.py)."""
    path = data_dir / FARM_ID_FILE
    if path.exists() and (farm := path.read_text().strip()):
        return farm
    raw = secrets.token_hex(8).upper()
    farm = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(farm + "\n")
    os.replace(tmp, path)
    return farm


def load_or_create_viewer_token(data_dir: Path) -> str:
    """The read-only token of the status page and dashboards (docs/security.md)."""
    path = data_dir / VIEWER_TOKEN_FILE
    if path.exists() and (token := path.read_text().strip()):
        return token
    return rotate_token(data_dir, VIEWER_TOKEN_FILE)


def rotate_token(data_dir: Path, name: str = TOKEN_FILE) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(30)
    path = data_dir / name
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


def lan_address() -> str:
    """This machine's first non-loopback IPv4 address, read from the interfaces (no
    traffic is sent); loopback when there is none."""
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not ipaddress.ip_address(a.address).is_loopback:
                return a.address
    return "127.0.0.1"


def manager_url(host: str, port: int) -> str:
    """The URL a worker should be given for a server bound to `host`."""
    if host in ("0.0.0.0", "::", ""):
        host = lan_address()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass(slots=True)
class ManagerConfig:
    """How this manager runs, decided once at start (cli.py): the defaults, then what
    was saved (the window's port, the farm settings in the data dir), then the flags.
    An explicit flag always wins, even one equal to the default."""

    data_dir: Path
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    token: str | None = None
    advertise: bool = True
    # Farm settings given as flags (worker_timeout, ...): they win over the stored ones.
    farm: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        flags: Mapping[str, Any],
        saved_port: int | None = None,
        saved_host: str | None = None,
    ) -> ManagerConfig:
        """`flags` holds only what was given on the command line (None: not given);
        `saved_port`/`saved_host`: the window's Settings, which a flag wins over."""
        port = flags.get("port")
        if port is None:
            port = saved_port if saved_port is not None else DEFAULT_PORT
        return cls(
            data_dir=flags.get("data_dir") or default_data_dir(),
            host=flags.get("host") or saved_host or "0.0.0.0",
            port=port,
            token=flags.get("token"),
            advertise=not flags.get("no_advertise", False),
            farm=dict(flags.get("farm") or {}),
        )
