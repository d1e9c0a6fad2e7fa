"""The agent acts on "update all" (`check_update` in its pull answer) at once, and only
between tasks: the real agent loops and client, in-process, against a real manager on
loopback. Its periodic check is an hour away (`--update-check 3600`), so only the flag
can make it update within the test. Its "executable" is a small script standing for
the one-file build, and the newer build on offer another that answers `--version` like
the program; the update then runs every step up to the swap (downloaded, hash-checked,
smoke-tested, swapped) and `Agent.work` returns RESTART, where `main` would re-execute.
The whole path with the real executable is tests/e2e/test_self_update.py.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from flamenco_gui import __version__
from flamenco_gui.farm.service import FarmConfig
from flamenco_gui.manager import Manager
from flamenco_gui.platform_names import arch_name, os_name
from flamenco_gui.worker.agent import (
    RESTART,
    Agent,
    WorkerConfig,
    accepted_kinds,
    registration_body,
)
from flamenco_gui.worker.client import ManagerClient
from flamenco_gui.worker.outbox import Outbox
from flamenco_gui.worker.runner import Tools
from flamenco_gui.worker.self_update import Updater

pytestmark = pytest.mark.timeout(60)
TOKEN = "update-all-token"
NEWER = f"flamenco-9.0.0-{os_name()}-{arch_name()}"


def script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(0o755)
    return path


@dataclass
class Node:
    manager: Manager
    executable: Path
    work: asyncio.Task[int]

    def offer_newer(self) -> bytes:
        folder = self.manager.data_dir / "downloads"
        folder.mkdir(exist_ok=True)
        build = script(folder / NEWER, "print('flamenco 9.0.0')")
        return build.read_bytes()

    def version(self) -> str | None:
        workers = self.manager.service.list_workers()
        return workers[0]["version"] if workers else None


async def until(predicate, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.05)


@pytest.fixture
async def node(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Node]:
    """`update_check` as the test's parameter says (default: an hour)."""
    manager = Manager(
        tmp_path / "data", "127.0.0.1", 0, TOKEN, config=FarmConfig(), advertise=False
    )
    await manager.start()
    folder = tmp_path / "node"
    folder.mkdir()
    executable = script(folder / "flamenco", "print('flamenco old')")
    config = WorkerConfig(
        manager=manager.url,
        token=TOKEN,
        name="exe-node",
        work_dir=folder / "work",
        tools=Tools(),
        heartbeat=0.5,
        update_check=getattr(request, "param", 3600),
        accepts=accepted_kinds("command", blender_python=False),  # its test task is a command
    )
    config.work_dir.mkdir()
    outbox = Outbox(config.work_dir / "outbox.jsonl")
    async with aiohttp.ClientSession() as session:
        client = ManagerClient(
            session,
            manager.url,
            TOKEN,
            config.credentials_path,
            functools.partial(registration_body, config),
        )
        updater = Updater(client, config.work_dir, config.update_check, executable)
        work = asyncio.create_task(Agent(config, client, outbox, updater).work())
        n = Node(manager, executable, work)
        try:
            # Its first check comes at start: it reports the build it runs.
            await until(lambda: n.version() == __version__, 20, "its version report")
            yield n
        finally:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            outbox.close()
            await manager.stop()


async def test_update_all_makes_an_idle_worker_update_now(node: Node) -> None:
    old = node.executable.read_bytes()
    newer = node.offer_newer()
    await asyncio.sleep(1.5)  # on offer, but its next periodic check is an hour away
    assert not node.work.done() and node.executable.read_bytes() == old
    assert await node.manager.service.request_worker_updates() == [1]
    # Its held pull answers with the flag; it checks, installs, and asks to restart.
    assert await asyncio.wait_for(node.work, 20) == RESTART
    assert node.executable.read_bytes() == newer


async def test_update_all_waits_for_the_running_task(node: Node, tmp_path: Path) -> None:
    marker = tmp_path / "task-done"
    argv = [
        sys.executable,
        "-c",
        f"import time, pathlib; time.sleep(2); pathlib.Path({str(marker)!r}).touch()",
    ]
    job = node.manager.service.create_job(
        name="j",
        type="command",
        settings={"argv": argv, "frame_start": 1, "frame_end": 1},
        priority=50,
        chunk_size=1,
    )
    tasks, _ = node.manager.service.list_tasks(job_id=job["id"])
    service = node.manager.service
    await until(lambda: service.get_task(tasks[0]["id"])["status"] == "rendering", 20, "start")
    old = node.executable.read_bytes()
    node.offer_newer()
    assert await service.request_worker_updates() == [1]
    await asyncio.sleep(0.5)
    assert node.executable.read_bytes() == old, "swapped during the task"
    assert await asyncio.wait_for(node.work, 30) == RESTART
    assert marker.exists()  # the task ran to its end first
    assert service.get_task(tasks[0]["id"])["status"] == "completed"


@pytest.mark.parametrize("node", [0], indirect=True)
async def test_a_worker_with_update_checks_off_reports_but_is_not_updated(node: Node) -> None:
    # The fixture saw its version report: with --update-check 0 it still reports once.
    old = node.executable.read_bytes()
    node.offer_newer()
    assert await node.manager.service.request_worker_updates() == [1]
    await asyncio.sleep(2)  # its pull took the flag; its owner turned updates off
    assert not node.manager.service.take_update_request(1)  # the flag was delivered
    assert not node.work.done() and node.executable.read_bytes() == old
