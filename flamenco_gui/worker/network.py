"""What the manager needs to wake this machine (Wake-on-LAN): the MAC address of each
interface with an IPv4 address (not loopback), and the broadcast address of its
subnet. Read once per start (interfaces rarely change under a running worker)."""

from __future__ import annotations

import functools
import ipaddress
import socket

import psutil

MAX_INTERFACES = 3  # the seed's mac_address holds at most 64 characters


@functools.cache
def wake_addresses() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(MACs, broadcast addresses), in interface order."""
    macs: list[str] = []
    broadcasts: list[str] = []
    for addrs in psutil.net_if_addrs().values():
        link = next((a.address for a in addrs if a.family == psutil.AF_LINK), None)
        inet = next((a for a in addrs if a.family == socket.AF_INET), None)
        if not link or inet is None or inet.address.startswith("127.") or not inet.netmask:
            continue
        if link.replace(":", "").strip("0") == "":
            continue
        net = ipaddress.IPv4Network(f"{inet.address}/{inet.netmask}", strict=False)
        macs.append(link.lower().replace("-", ":"))
        broadcasts.append(inet.broadcast or str(net.broadcast_address))
        if len(macs) == MAX_INTERFACES:
            break
    return tuple(macs), tuple(dict.fromkeys(broadcasts))


def wake_fields() -> dict[str, object]:
    """The report's `broadcasts` (its MACs go in the seed's `mac_address`: sysinfo.py)."""
    broadcasts = wake_addresses()[1]
    return {"broadcasts": list(broadcasts)} if broadcasts else {}
