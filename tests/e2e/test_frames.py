"""Know what the farm did, with real processes and real Blender: per-frame records from
Blender's own output, an honest ETA, every frame checked, broken frames re-rendered.

Each test builds its own farm (a headless manager, two workers) and scene (Blender's
factory startup, Cycles, 32x24). Where time matters (the ETA), each frame is paced by a
pause in Blender's `render_pre` handler: the render stays real, and the frame time
is dominated by something the busy CI machine cannot stretch much.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.blender_scene import make_scene, require_blender
from tests.procs import Farm, Http, wait_until

pytestmark = [pytest.mark.blender, pytest.mark.timeout(300)]

# render_pre runs before each frame; 1 s makes a frame's time mostly this sleep.
PACE = [
    "--python-expr",
    "import bpy, time; bpy.app.handlers.render_pre.append(lambda *a: time.sleep(1.0))",
]
# Writes frame 1 all black and frame 2 as zero bytes, right after Blender saved them.
BAD_FRAMES = """
import bpy
def spoil(scene, *args):
    path = scene.render.frame_path(frame=scene.frame_current)
    if scene.frame_current == 2:
        open(path, "wb").close()
    else:
        image = bpy.data.images.new("black", 32, 24)
        image.filepath_raw = path
        image.file_format = "PNG"
        image.save()
bpy.app.handlers.render_write.append(spoil)
"""


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_scene(tmp_path_factory.mktemp("scene") / "scene.blend", frames=12)


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    blender = require_blender()
    farm = Farm(tmp_path)
    try:
        farm.start_manager()
        for name in ("render-01", "render-02"):
            farm.add_worker(name, "--blender", blender, "--allow-blender-python")
        yield farm
    finally:
        farm.stop()
        farm.dump_logs()


def submit(
    http: Http, scene: Path, out: Path, *, args: list[str] | None = None, **extra: Any
) -> Any:
    settings = {
        "filepath": str(scene),
        "frame_start": extra.pop("frame_start", 1),
        "frame_end": extra.pop("frame_end", 12),
        "render_output": f"{out}/######",
        "format": "PNG",
        "blender_args": args or [],
    }
    body = {"name": "frames", "type": "blender_render", "settings": settings}
    return http.post("/jobs", body | {"priority": 50, "chunk_size": 3} | extra)


def finished(http: Http, job_id: int, timeout: float = 180) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = http.get(f"/jobs/{job_id}")
        return job if job["status"] in ("completed", "failed", "canceled") else None

    return wait_until(done, timeout, f"job {job_id} to finish", interval=0.1)


def records(http: Http, job_id: int) -> list[dict[str, Any]]:
    return http.get(f"/jobs/{job_id}/frames")["frames"]


def blender_times(http: Http, job_id: int) -> dict[int, float]:
    """Frame -> the render time Blender printed after saving it, read from the task logs."""
    times: dict[int, float] = {}
    for task in http.job_tasks(job_id):
        log = http.text(f"/tasks/{task['id']}/log")
        for frame, took in re.findall(r"Saved: '[^']*?(\d+)\.png'\n Time: ([\d:.]+)", log):
            minutes, seconds = took.split(":")
            times[int(frame)] = int(minutes) * 60 + float(seconds)
    return times


def sound(out: Path, frame: int) -> bool:
    with Image.open(out / f"{frame:06d}.png") as image:
        image.load()
        return image.size == (32, 24)


def test_twelve_frames_recorded_with_an_honest_eta(farm: Farm, scene: Path, tmp_path: Path) -> None:
    http = farm.http
    out = tmp_path / "out"
    job = submit(http, scene, out, args=PACE)
    assert http.get(f"/jobs/{job['id']}")["eta_note"] in ("waiting", "no frame finished yet")

    def four_frames() -> tuple[float, dict[str, Any]] | None:
        done = [r for r in records(http, job["id"]) if r["finished"] is not None]
        if len(done) < 4:
            return None
        return time.monotonic(), http.get(f"/jobs/{job['id']}"), done

    seen, during, state = wait_until(four_frames, 120, "four frames finished", interval=0.05)
    final = finished(http, job["id"])
    real = time.monotonic() - seen
    assert final["status"] == "completed"
    assert during["remaining"] is not None, during["eta_note"]
    assert during["elapsed"] > 0
    # The must-show: within 30 % of the real remaining time.
    assert abs(during["remaining"] - real) <= 0.3 * real, (during["remaining"], real, state)
    assert final["remaining"] == 0 and final["eta_note"] is None

    rows = records(http, job["id"])
    assert [r["frame"] for r in rows] == list(range(1, 13))
    printed = blender_times(http, job["id"])
    assert len(printed) == 12
    for row in rows:
        assert row["worker"] in ("render-01", "render-02")
        assert row["started"] <= row["finished"]
        assert row["render_seconds"] == pytest.approx(printed[row["frame"]])  # Blender's own
        assert row["peak_memory_mb"] > 1  # "(Peak 10.83M)" in Blender's status lines
        assert row["path"] == str(out / f"{row['frame']:06d}.png")
        assert row["bytes"] == (out / f"{row['frame']:06d}.png").stat().st_size
        assert row["check"] == "ok"

    reply = http.request("GET", f"/jobs/{job['id']}/frames?format=csv")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/csv")
    lines = reply.text.splitlines()
    assert lines[0].startswith("frame,worker,started,finished,render_seconds,peak_memory_mb,path")
    assert [line.split(",")[0] for line in lines[1:]] == [str(f) for f in range(1, 13)]

    attempts = http.get(f"/jobs/{job['id']}/attempts")
    assert len(attempts) == 4 and {a["outcome"] for a in attempts} == {"completed"}

    days = http.get("/statistics/workers?days=1")
    assert sum(d["frames"] for d in days) == 12 and {d["failures"] for d in days} == {0}
    busy = sum(h["node_hours"] for h in http.get("/statistics/utilisation?days=1"))
    assert 0 < busy * 3600 <= 2 * final["elapsed"] + 1  # two workers at most
    (today,) = http.get("/statistics/history?days=1")
    assert today["jobs"] == 1 and today["frames"] == 12


def test_check_frames_and_rerender_exactly_the_broken_ones(
    farm: Farm, scene: Path, tmp_path: Path
) -> None:
    http = farm.http
    out = tmp_path / "out"
    job = submit(http, scene, out)
    assert finished(http, job["id"])["status"] == "completed"
    assert http.post(f"/jobs/{job['id']}/check-frames", {}) == {
        "frames": 12, "missing": [], "broken": [], "source": "output folder"
    }  # fmt: skip

    five = out / "000005.png"
    five.write_bytes(five.read_bytes()[: five.stat().st_size // 2])  # truncated
    (out / "000009.png").unlink()  # missing
    untouched = {
        f: (out / f"{f:06d}.png").stat().st_mtime_ns for f in range(1, 13) if f not in (5, 9)
    }

    found = http.post(f"/jobs/{job['id']}/check-frames", {})
    assert found["frames"] == 12 and found["missing"] == [9]
    assert [b["frame"] for b in found["broken"]] == [5]
    assert "frame 5 failed the decode check" in found["broken"][0]["reason"]

    again = http.post(f"/jobs/{job['id']}/rerender", {})
    assert again["tasks_total"] == 6
    new = [t for t in http.job_tasks(job["id"])][4:]
    assert sorted((t["frame_start"], t["frame_end"]) for t in new) == [(5, 5), (9, 9)]
    assert finished(http, job["id"])["status"] == "completed"

    assert http.post(f"/jobs/{job['id']}/check-frames", {})["broken"] == []
    assert all(sound(out, f) for f in range(1, 13))
    assert {f: (out / f"{f:06d}.png").stat().st_mtime_ns for f in untouched} == untouched


def test_skip_existing_renders_only_what_is_missing(
    farm: Farm, scene: Path, tmp_path: Path
) -> None:
    http = farm.http
    out = tmp_path / "out"
    assert finished(http, submit(http, scene, out, frame_end=6)["id"])["status"] == "completed"
    (out / "000004.png").write_bytes(b"")  # zero bytes: not sound
    job = submit(http, scene, out, frame_end=8, skip_existing=True)
    spans = sorted((t["frame_start"], t["frame_end"]) for t in http.job_tasks(job["id"]))
    assert spans == [(4, 4), (7, 8)]
    assert finished(http, job["id"])["status"] == "completed"
    assert all(sound(out, f) for f in range(1, 9))


def test_an_all_black_and_a_zero_byte_frame_fail_the_task(
    farm: Farm, scene: Path, tmp_path: Path
) -> None:
    http = farm.http
    http.patch("/settings", {"max_attempts": 2})
    out = tmp_path / "out"
    job = submit(http, scene, out, frame_end=2, chunk_size=2, args=["--python-expr", BAD_FRAMES])
    assert finished(http, job["id"])["status"] == "failed"
    (task,) = http.job_tasks(job["id"])
    assert "frame 1 failed the uniform check" in task["error"]
    assert "frame 2 failed the size check: 0 bytes" in task["error"]
    attempts = http.get(f"/jobs/{job['id']}/attempts")
    assert len(attempts) == 2 and {a["outcome"] for a in attempts} == {"failed"}  # retried
    checks = {r["frame"]: r["check"] for r in records(http, job["id"])}
    assert checks[1].startswith("frame 1 failed the uniform check")
    assert checks[2].startswith("frame 2 failed the size check")
