"""Wake-on-LAN with real manager and worker processes. The magic packets go only into
a network namespace this test creates (a veth pair: 10.77.N.2 here, 10.77.N.1 in the
namespace), where a listener captures them: nothing reaches a real network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import Farm, wait_until

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"
    ),
]

LISTEN = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("", 9))
print("listening", flush=True)
with open(sys.argv[1], "ab") as out:
    while True:
        data, _ = s.recvfrom(2048)
        out.write(data.hex().encode() + b"\\n")
        out.flush()
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def namespace(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(the namespace's broadcast address, the file its listener writes packets to)."""
    n = os.getpid() % 200 + 20
    ns, host_end, ns_end = f"fwol{n}", f"fwolh{n}", f"fwoln{n}"
    ip("netns", "add", ns)
    listener = None
    try:
        ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        ip("link", "set", ns_end, "netns", ns)
        ip("addr", "add", f"10.77.{n}.2/24", "dev", host_end)
        ip("link", "set", host_end, "up")
        ip("netns", "exec", ns, "ip", "addr", "add", f"10.77.{n}.1/24", "dev", ns_end)
        ip("netns", "exec", ns, "ip", "link", "set", ns_end, "up")
        captured = tmp_path / "captured.txt"
        listener = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", LISTEN, str(captured)],
            stdout=subprocess.PIPE,
        )
        assert listener.stdout is not None and listener.stdout.readline() == b"listening\n"
        yield f"10.77.{n}.255", captured
    finally:
        if listener is not None:
            listener.kill()
            listener.wait()
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def magic(mac: str) -> str:
    return "ff" * 6 + mac.replace(":", "").lower() * 16


def packets(captured: Path) -> list[str]:
    return captured.read_text().split() if captured.exists() else []


def test_a_job_with_its_tag_wakes_the_sleeping_worker(
    farm: Farm, namespace: tuple[str, Path]
) -> None:
    broadcast, captured = namespace
    farm.start_manager("--wake-on-queue", "1", "--wake-broadcast", broadcast)
    proc = farm.add_worker("sleeper", "--tags", "gpu")
    http = farm.http
    worker = http.get("/workers")["sleeper"]
    macs = [m for m in (worker["mac_address"] or "").split(",") if m]
    assert macs, worker  # the worker reported its MAC address(es)
    proc.stop()  # it signs off: offline, as a machine gone to sleep
    wait_until(lambda: http.get("/workers")["sleeper"]["connection"] == "offline", 10, "offline")

    settings = {"argv": [sys.executable, "-c", "pass"], "frame_start": 1, "frame_end": 1}
    body = {"name": "py", "type": "command", "settings": settings}
    http.post("/jobs", body)  # no tags: wakes nobody
    http.post("/jobs", {**body, "tags": ["cpu"]})  # a tag it lacks: nobody
    assert packets(captured) == []
    http.post("/jobs", {**body, "tags": ["gpu"]})
    wait_until(lambda: packets(captured), 5, "the magic packet in the namespace")
    assert set(packets(captured)) == {magic(m) for m in macs}

    # The wrangler's "wake", by hand: the same packets again.
    woken = http.post(f"/workers/{worker['id']}/wake", {})
    assert woken["sent"] == [f"{m} via {broadcast}" for m in macs]
    wait_until(lambda: len(packets(captured)) == 2 * len(macs), 5, "the second packets")
