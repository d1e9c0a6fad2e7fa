"""LAN discovery with real processes and real mDNS on the loopback interface.

`FLAMENCO_MDNS_LOOPBACK=1` makes the manager advertise 127.0.0.1 (it listens there)
and the worker browse 127.0.0.1 only, so these tests never see, nor disturb, a farm on
the machine's real network. Multicast on `lo` works on Linux without a route: the
sender picks the interface (IP_MULTICAST_IF) and the kernel loops the packet back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from flamenco_gui import discovery
from tests.procs import TOKEN, Farm, Proc, spawn, wait_until, wait_while_alive

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Farm]:
    monkeypatch.setenv(discovery.LOOPBACK_ENV, "1")  # inherited by every process spawned
    monkeypatch.delenv("FLAMENCO_TOKEN", raising=False)
    farm = Farm(tmp_path)
    try:
        yield farm
    finally:
        farm.stop()
        farm.dump_logs()


def run_worker(farm: Farm, name: str, *args: str) -> Proc:
    """A worker started as a render node would be: no --manager unless given."""
    argv = ["worker", "--name", name, "--work-dir", str(farm.root / name), *args]
    farm.workers[name] = worker = spawn(name, argv, farm.root)
    return worker


def advertised(farm: Farm) -> bool:
    assert farm.manager is not None
    return "advertising" in farm.manager.log()


def test_the_manager_advertises_its_port_and_version(farm: Farm) -> None:
    farm.start_manager()
    wait_until(lambda: advertised(farm), 10, "the manager's advertisement")
    found = asyncio.run(discovery.browse(timeout=5))
    assert [m.urls for m in found] == [(farm.url,)]
    assert found[0].version == farm.http.get("/version")["version"]
    assert found[0].api == farm.http.get("/version")["api"]
    assert asyncio.run(discovery.find_manager(timeout=5)) == farm.url


def test_a_worker_without_manager_finds_it_and_registers(farm: Farm) -> None:
    farm.start_manager()
    wait_until(lambda: advertised(farm), 10, "the manager's advertisement")
    worker = run_worker(farm, "found", "--token", TOKEN, "--heartbeat", "1")
    wait_while_alive(worker, lambda: "found" in farm.http.get("/workers"), 30, "registration")
    assert "found Flamenco Manager on" in worker.log()
    assert farm.http.get("/workers")["found"]["connection"] == "online"


def test_a_discovered_manager_still_refuses_a_wrong_token(farm: Farm) -> None:
    farm.start_manager()
    wait_until(lambda: advertised(farm), 10, "the manager's advertisement")
    worker = run_worker(farm, "intruder", "--token", "not-the-farm-token")
    assert worker.popen.wait(30) == 1
    log = worker.log()
    assert "found Flamenco Manager on" in log  # discovery worked ...
    assert "refused the farm token" in log and "check --token" in log  # ... auth did not
    assert "intruder" not in farm.http.get("/workers")


def test_manager_flag_overrides_discovery(farm: Farm, tmp_path: Path) -> None:
    farm.start_manager()  # advertised
    wait_until(lambda: advertised(farm), 10, "the manager's advertisement")
    other = Farm(tmp_path / "other")
    (tmp_path / "other").mkdir()
    try:
        other.start_manager("--no-advertise")
        worker = run_worker(farm, "told", "--token", TOKEN, "--manager", other.url)
        wait_while_alive(worker, lambda: "told" in other.http.get("/workers"), 30, "registration")
        assert "told" not in farm.http.get("/workers")
        assert "found Flamenco Manager" not in worker.log()
    finally:
        other.stop()


def test_no_manager_found_is_a_clear_error(farm: Farm) -> None:
    farm.start_manager("--no-advertise")  # listening, but not announced
    worker = run_worker(farm, "lonely", "--token", TOKEN, "--discovery-timeout", "2")
    assert worker.popen.wait(30) == 1
    log = worker.log()
    assert "no Flamenco manager found on loopback" in log
    assert "--manager URL" in log


def test_only_reachable_addresses_are_advertised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(discovery.LOOPBACK_ENV, raising=False)
    assert discovery.advertised_addresses("127.0.0.1") == []  # nobody on the LAN could use it
    assert discovery.advertised_addresses("localhost") == []
    assert discovery.advertised_addresses("192.0.2.7") == ["192.0.2.7"]
    everywhere = discovery.advertised_addresses("0.0.0.0")
    assert everywhere == discovery.lan_addresses()
    assert "127.0.0.1" not in everywhere
    monkeypatch.setenv(discovery.LOOPBACK_ENV, "1")  # tests: loopback, whatever the host
    assert discovery.advertised_addresses("0.0.0.0") == ["127.0.0.1"]
