"""File transfer through the manager (`manager` storage) against a plain loopback copy.

    .venv/bin/python bench/transfer.py            # 500 MB in 10 files, 3 runs
    .venv/bin/python bench/transfer.py --quick    # 50 MB, 1 run

A set of random files (nothing compresses) is
- copied over loopback by a bare TCP receiver writing to disk (`socket.sendfile` from
  the sender): the baseline, what the disk and the loopback give with no protocol;
- uploaded to a real headless manager with the submitter's own client
  (flamenco_gui/submit/client.py: `POST /files/check`, `PUT /files/{sha256}`, the
  manager writing and hashing on a thread and verifying before it keeps a file);
- fetched by the worker's own code (worker/job_files.py + file_cache.py): a worker
  pulls the task of a manager job whose manifest is the set, streams every file into
  its cache and checks each against its hash, then lays it out.
Throughput is bytes / wall time; the ratio to the baseline is the figure. The
manager's event-loop lag p99 is read from `GET /health?lag_window=` over each transfer.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
from _common import (
    FARM_TOKEN,
    MB,
    PYTHON,
    ROOT,
    ManagerProcess,
    fmt,
    health,
    median,
    print_machine,
    print_table,
    verdict,
)

sys.path.insert(0, str(ROOT))

from flamenco_gui.file_pipe import keep_freed_buffers
from flamenco_gui.submit.client import ManagerAPI
from flamenco_gui.submit.packing import PackedFile
from flamenco_gui.worker.client import ManagerClient
from flamenco_gui.worker.file_cache import FileCache
from flamenco_gui.worker.job_files import JobFiles

BUDGET_RATIO = 0.5
BUDGET_LAG = 50.0

# The baseline's receiver: length-prefixed files written to a folder, acknowledged.
_RECEIVER = textwrap.dedent(
    """
    import socket, struct, sys
    from pathlib import Path
    out = Path(sys.argv[1]); srv = socket.create_server(("127.0.0.1", 0))
    print(srv.getsockname()[1], flush=True)
    conn, _ = srv.accept()
    f = conn.makefile("rb")
    n = 0
    while True:
        head = f.read(8)
        if not head:
            break
        size = struct.unpack("!Q", head)[0]
        with open(out / f"f{n}", "wb") as w:
            left = size
            while left:
                chunk = f.read(min(left, 1 << 20))
                w.write(chunk)
                left -= len(chunk)
        conn.sendall(b"k")
        n += 1
    """
)


def make_files(folder: Path, total: int, count: int) -> list[PackedFile]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / ("scene.blend" if i == 0 else f"tex_{i:02d}.exr")
        data = os.urandom(total // count)
        path.write_bytes(data)
        files.append(PackedFile(path.name, path, hashlib.sha256(data).hexdigest(), len(data)))
    return files


def plain_copy(files: list[PackedFile], dest: Path) -> float:
    """Seconds to send the files over loopback to a receiver writing them to disk."""
    import struct

    dest.mkdir(parents=True, exist_ok=True)
    recv = subprocess.Popen([PYTHON, "-c", _RECEIVER, str(dest)], stdout=subprocess.PIPE, text=True)
    assert recv.stdout is not None
    port = int(recv.stdout.readline())
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for f in files:
            sock.sendall(struct.pack("!Q", f.size))
            with f.source.open("rb") as src:
                sock.sendfile(src)
            assert sock.recv(1) == b"k"
    recv.wait(30)
    return time.perf_counter() - started


def upload(url: str, files: list[PackedFile]) -> float:
    api = ManagerAPI(url, FARM_TOKEN)
    started = time.perf_counter()
    sent = api.upload(files, lambda _f, _n: None)
    elapsed = time.perf_counter() - started
    assert sent == sum(f.size for f in files), sent
    api.submit(
        {
            "name": "bench", "type": "blender_render", "chunk_size": 1, "storage": "manager",
            "settings": {"filepath": "scene.blend", "render_output": "######",
                         "frame_start": 1, "frame_end": 1},
            "files": [f.manifest_entry() for f in files],
        }
    )  # fmt: skip
    api.close()
    return elapsed


async def fetch(url: str, work: Path) -> float:
    """The worker's own fetch: pull the job's task, lay out (cache, verify, link)."""
    work.mkdir(parents=True, exist_ok=True)

    async def registration() -> dict[str, Any]:
        return {"hostname": "bench-worker", "system": "Linux"}

    async with aiohttp.ClientSession() as session:
        client = ManagerClient(session, url, FARM_TOKEN, work / "credentials.json", registration)
        reply = await client.call("PATCH", "/workers/{worker_id}", {"status": "available"})
        task_id = reply.data["task_id"]
        files = JobFiles(client, FileCache(work / "cache"), work)
        started = time.perf_counter()
        layout = await files.lay_out(task_id)
        elapsed = time.perf_counter() - started
        assert layout is not None and "0 from the cache" in layout.note, layout
        return elapsed


async def lag(url: str, seconds: float) -> float:
    async with aiohttp.ClientSession() as session:
        h = await health(session, url, seconds)
        return float(h["loop_lag"]["p99_ms"])


def one_run(total: int, count: int, tmp: Path) -> dict[str, float]:
    files = make_files(tmp / "set", total, count)
    copy_s = plain_copy(files, tmp / "copy")
    shutil.rmtree(tmp / "copy")
    (tmp / "manager").mkdir()
    with ManagerProcess(tmp / "manager") as manager:
        up_s = upload(manager.url, files)
        up_lag = asyncio.run(lag(manager.url, up_s + 1))
        down_s = asyncio.run(fetch(manager.url, tmp / "worker"))
        down_lag = asyncio.run(lag(manager.url, down_s + 1))
    shutil.rmtree(tmp, ignore_errors=True)
    mb = total / MB
    return {
        "copy": mb / copy_s,
        "upload": mb / up_s,
        "fetch": mb / down_s,
        "upload_lag": up_lag,
        "fetch_lag": down_lag,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=500)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    keep_freed_buffers()  # as `main.py worker` does: the fetch runs the worker's code here
    if a.quick:
        a.mb, a.runs = 50, 1
    print_machine("bench/transfer.py: manager storage vs a plain loopback copy")
    runs = []
    for i in range(a.runs):
        tmp = Path(tempfile.mkdtemp(prefix="flamenco-transfer-"))
        runs.append(one_run(a.mb * MB, a.files, tmp))
        print(f"run {i + 1}: " + ", ".join(f"{k} {fmt(v)}" for k, v in runs[-1].items()))
    m = {k: median(r[k] for r in runs) for k in runs[0]}
    # Each run's transfer against its own copy (the machine is shared: a figure taken
    # minutes apart measures the neighbours), then the median of those ratios.
    up_ratio = median(r["upload"] / r["copy"] for r in runs)
    down_ratio = median(r["fetch"] / r["copy"] for r in runs)
    worst_lag = max(m["upload_lag"], m["fetch_lag"])
    ratio = f"≥ {BUDGET_RATIO}"
    lag_budget = f"< {BUDGET_LAG:g}"
    print_table(
        f"{a.mb} MB in {a.files} files, median of {a.runs}",
        ["figure", "value", "budget", "met"],
        [
            ["plain loopback copy MB/s", fmt(m["copy"]), "", ""],
            ["upload MB/s (submitter → manager)", fmt(m["upload"]), "", ""],
            ["— ratio to the copy (median of the runs' ratios)", fmt(up_ratio, 2), ratio,
             verdict(up_ratio >= BUDGET_RATIO)],
            ["fetch MB/s (manager → worker cache)", fmt(m["fetch"]), "", ""],
            ["— ratio to the copy (median of the runs' ratios)", fmt(down_ratio, 2), ratio,
             verdict(down_ratio >= BUDGET_RATIO)],
            ["loop lag p99 during upload, ms", fmt(m["upload_lag"]), lag_budget, ""],
            ["loop lag p99 during fetch, ms", fmt(m["fetch_lag"]), lag_budget,
             verdict(worst_lag < BUDGET_LAG)],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
