"""Zero-configuration LAN discovery over mDNS/DNS-SD (python-zeroconf).

The manager advertises `_flamenco._tcp.local.` with its port and the TXT properties
`version` and `api`; a worker started without `--manager` browses for it, checks each
answer with `GET /version`, and uses the one manager it finds. Discovery only says
*where* the manager is: the worker still needs the farm token or a pairing code, so an
advertisement never lets anyone in.

Tests cannot rely on a LAN, so `FLAMENCO_MDNS_LOOPBACK=1` switches both sides to the
loopback interface only: the manager advertises 127.0.0.1 even when it listens there,
and the worker browses 127.0.0.1 only, so a test never finds a real farm nearby.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import psutil

if TYPE_CHECKING:  # imported lazily: zeroconf costs start-up time nobody else should pay
    from zeroconf import ServiceInfo, Zeroconf
    from zeroconf.asyncio import AsyncZeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_flamenco._tcp.local."
LOOPBACK_ENV = "FLAMENCO_MDNS_LOOPBACK"
NO_ADVERTISE_ENV = "FLAMENCO_NO_ADVERTISE"  # `manager --no-advertise`, for the window too
LOOPBACK = "127.0.0.1"
DEFAULT_TIMEOUT = 10.0  # seconds a worker looks before giving up
SETTLE = 1.0  # after the first answer, how long to wait for other managers
RESOLVE_MS = 3000
PROBE_TIMEOUT = 2.0  # GET /version on an advertised address


class DiscoveryFailed(Exception):
    """No manager, or more than one and nothing to choose by: the message says what to do."""


def advertising_wanted() -> bool:
    return os.environ.get(NO_ADVERTISE_ENV, "") != "1"


def loopback_only() -> bool:
    return os.environ.get(LOOPBACK_ENV, "") == "1"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses (psutil reads the interfaces)."""
    found = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not ipaddress.ip_address(a.address).is_loopback:
                found.append(a.address)
    return found


def advertised_addresses(host: str) -> list[str]:
    """Where workers can reach a manager bound to `host`; empty: do not advertise.

    A manager bound to loopback is unreachable from the LAN, so advertising it would
    only mislead, except under FLAMENCO_MDNS_LOOPBACK=1 (tests)."""
    if loopback_only():
        return [LOOPBACK]
    if host in ("0.0.0.0", "::", ""):
        return lan_addresses()
    if _is_loopback(host):
        return []
    try:
        return [host] if ipaddress.ip_address(host).version == 4 else []
    except ValueError:  # a host name: let the resolver find its addresses
        return [socket.gethostbyname(host)]


def _interfaces(addresses: list[str]) -> Any:
    from zeroconf import InterfaceChoice

    return [LOOPBACK] if loopback_only() else (addresses or InterfaceChoice.All)


def _label(text: str) -> str:
    """A DNS host label: letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40] or "flamenco"


@dataclass
class Advertiser:
    """The manager's advertisement. python-zeroconf runs on a thread of its own (it
    starts one when created off any event loop), so mDNS traffic never runs on the
    window's loop; `start` and `stop` block and are called through `asyncio.to_thread`."""

    port: int
    version: str
    api: str
    addresses: list[str]
    _zc: Zeroconf | None = field(default=None, init=False)
    _info: ServiceInfo | None = field(default=None, init=False)

    def start(self) -> str:
        """Announce on the LAN (about a second of probing); returns the service name."""
        from zeroconf import IPVersion, ServiceInfo, Zeroconf

        host = socket.gethostname().split(".")[0]
        name = f"Flamenco Manager on {host}:{self.port}"[:63]
        info = ServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            port=self.port,
            properties={"version": self.version, "api": self.api},
            server=f"{_label(host)}-flamenco-{self.port}.local.",
            parsed_addresses=self.addresses,
        )
        zc = Zeroconf(interfaces=_interfaces(self.addresses), ip_version=IPVersion.V4Only)
        try:
            zc.register_service(info, allow_name_change=True)
        except BaseException:
            zc.close()
            raise
        self._zc, self._info = zc, info
        return info.name

    def stop(self) -> None:
        """Say goodbye (so workers forget this manager at once) and close the sockets."""
        zc, info = self._zc, self._info
        self._zc = self._info = None
        if zc is None:
            return
        try:
            if info is not None:
                zc.unregister_service(info)
        finally:
            zc.close()


@dataclass(frozen=True, slots=True)
class FoundManager:
    """One advertised manager: its service name, the URLs it gave, its TXT properties."""

    name: str
    urls: tuple[str, ...]
    version: str
    api: str


def _found(info: Any) -> FoundManager | None:
    addresses = [a for a in info.parsed_addresses() if ":" not in a]  # IPv4 only
    if not addresses or not info.port:
        return None
    props = info.decoded_properties
    return FoundManager(
        name=info.name.removesuffix("." + SERVICE_TYPE),
        urls=tuple(f"http://{a}:{info.port}" for a in addresses),
        version=props.get("version") or "?",
        api=props.get("api") or "?",
    )


async def browse(timeout: float, settle: float = SETTLE) -> list[FoundManager]:
    """Every manager that answers within `timeout` s; returns `settle` s after the first
    answer rather than waiting out the timeout, which is only for the empty case."""
    from zeroconf import IPVersion, ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    found: dict[str, FoundManager] = {}
    first = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()
    aiozc = _async_zeroconf(IPVersion.V4Only)

    async def resolve(name: str) -> None:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if await info.async_request(aiozc.zeroconf, RESOLVE_MS) and (m := _found(info)):
            found[name] = m
            first.set()

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            task = asyncio.ensure_future(resolve(name))
            pending.add(task)
            task.add_done_callback(pending.discard)

    browser = AsyncServiceBrowser(aiozc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), timeout)
        if first.is_set():
            await asyncio.sleep(max(0.0, min(settle, deadline - loop.time())))
    finally:
        for task in pending:
            task.cancel()
        await browser.async_cancel()
        await aiozc.async_close()
    return sorted(found.values(), key=lambda m: m.name)


def _async_zeroconf(ip_version: Any) -> AsyncZeroconf:
    from zeroconf import InterfaceChoice
    from zeroconf.asyncio import AsyncZeroconf

    interfaces = [LOOPBACK] if loopback_only() else InterfaceChoice.All
    return AsyncZeroconf(interfaces=interfaces, ip_version=ip_version)


async def _answers(session: aiohttp.ClientSession, url: str) -> bool:
    """Is a Flamenco manager really listening there? (`GET /version`, no token)."""
    try:
        async with session.get(
            url + "/version", timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
        ) as response:
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False
    return response.status == 200 and isinstance(data, dict) and "version" in data


async def reachable(managers: list[FoundManager]) -> list[tuple[FoundManager, str]]:
    """Each manager with the first of its URLs that answers; the silent ones left out."""
    async with aiohttp.ClientSession() as session:

        async def first_url(m: FoundManager) -> str | None:
            for url in m.urls:
                if await _answers(session, url):
                    return url
            return None

        urls = await asyncio.gather(*(first_url(m) for m in managers))
    return [(m, url) for m, url in zip(managers, urls, strict=True) if url]


async def find_manager(timeout: float = DEFAULT_TIMEOUT, prefer: str | None = None) -> str:
    """The URL of the one manager on the LAN. With several, `prefer` (the manager this
    worker used last) wins; otherwise the worker must be told, never guess."""
    where = "on loopback (FLAMENCO_MDNS_LOOPBACK=1)" if loopback_only() else "on the LAN"
    candidates = await reachable(await browse(timeout))
    if not candidates:
        raise DiscoveryFailed(
            f"no Flamenco manager found {where} within {timeout:g} s (mDNS {SERVICE_TYPE}): "
            "start the manager listening on the LAN, let multicast (UDP 5353) pass between "
            "the machines, or give --manager URL"
        )
    for m, url in candidates:
        if prefer and (url == prefer.rstrip("/") or prefer.rstrip("/") in m.urls):
            return url
    if len(candidates) > 1:
        listed = ", ".join(f"{m.name} at {url}" for m, url in candidates)
        raise DiscoveryFailed(f"several Flamenco managers found ({listed}): choose with --manager")
    m, url = candidates[0]
    log.info("found %s at %s (version %s, API %s)", m.name, url, m.version, m.api)
    return url
