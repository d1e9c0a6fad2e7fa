"""Where the manager keeps its data, its farm token, and the URL workers should use."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from pathlib import Path

import platformdirs
import psutil

APP_NAME = "flamenco-manager"
DEFAULT_PORT = 7777  # the 2015 manager's port
TOKEN_FILE = "token"


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


def rotate_token(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(30)
    path = data_dir / TOKEN_FILE
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
