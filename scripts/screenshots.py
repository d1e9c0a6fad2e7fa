"""Writes the window's screenshots to docs/screenshots/ from a populated demo farm.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py --only statistics

The demo farm is made through FarmService, the same calls the API makes, in a
temporary data dir; nothing is drawn by hand. The frames in the previews are really
rendered: Blender renders a small animated scene (tests/blender_scene.py) and each
frame becomes a preview through the worker's own thumbnail function, as a worker
sends it. The manager is not started (no port is opened): the window only needs its
service, URL and token. Needs Blender (apt-get install blender).

The statistics screenshots are of a farm that really rendered: a manager on loopback,
two real worker processes and real Blender (a 48-frame shot, and a shot whose frames a
Blender handler spoils, so its tasks fail their frame check and are retried).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget

from flamenco_gui.farm.service import FarmService
from flamenco_gui.farm.states import TaskStatus, WorkerReport
from flamenco_gui.gui.event_loop import FarmEventLoop
from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.gui.theme import dark_palette
from flamenco_gui.manager import Manager
from flamenco_gui.worker.previews import thumbnail
from tests.blender_scene import make_scene, render_argv

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
TOKEN = "k3J9xQm2vT8pLw4rZ_demo-Yh7Ns2Qe5Rb8Wc1Ua"  # as long as a real one (40)


def _machine(cpu: float, mem: float, load: float) -> dict:
    return {
        "update_frequent": {
            "load_average": {"1min": load, "5min": load * 0.9, "15min": load * 0.8},
            "worker_cpu_percent": cpu,
        },
        "update_less_frequent": {
            "worker_architecture": "x86_64",
            "worker_disk_percent": 41.0,
            "worker_mem_percent": mem,
            "worker_num_cpus": 16,
        },
    }


def _blender_log(frame_start: int, frames: int) -> list[str]:
    """Lines as Blender 4 prints them while rendering with Cycles."""
    lines = [
        "Blender 4.2.3 LTS (hash 0b5bb8c3a1bc built 2024-10-15 01:22:12)",
        "Read blend: /mnt/projects/sc030_chase_anim.blend",
        "Fra:1 Mem:312.45M (Peak 402.11M) | Time:00:00.41 | Syncing Camera",
    ]
    for f in range(frame_start, frame_start + frames):
        for sample in range(8, 129, 8):
            left = (128 - sample) * 0.35
            lines.append(
                f"Fra:{f} Mem:412.08M (Peak 530.77M) | Time:00:{sample // 4:02d}.12 | "
                f"Remaining:00:{int(left):02d}.40 | Mem:180.22M, Peak:210.40M | "
                f"Scene, ViewLayer | Sample {sample}/128"
            )
        lines.append(f"Saved: '/mnt/render/sc030_chase_anim/{f:06d}.png'")
        lines.append(" Time: 00:45.12 (Saving: 00:00.21)")
    return lines


PREVIEW_FRAMES = 24
SIZE = "import bpy; s = bpy.context.scene; s.render.resolution_x = 320; s.render.resolution_y = 180"


def render_frames(tmp: Path) -> dict[int, bytes]:
    """Frames 1-24 of a real animated scene, rendered by Blender at 320x180, each made
    into the JPEG a worker sends (worker/previews.py's thumbnail)."""
    blend = make_scene(tmp / "sc030_chase_anim.blend", frames=PREVIEW_FRAMES, samples=8)
    out = tmp / "frames"
    argv = render_argv(blend, f"{out}/f_####", 1, PREVIEW_FRAMES)
    argv[3:3] = ["--python-expr", SIZE]  # after the file, before rendering
    subprocess.run(argv, check=True, capture_output=True, timeout=600)
    return {f: thumbnail(out / f"f_{f:04d}.png") for f in range(1, PREVIEW_FRAMES + 1)}


async def populate(service: FarmService, frames: dict[int, bytes]) -> int:
    """A studio's evening: a shot rendering, one finished, one failed, one paused.
    Returns a rendering task to show the log of."""
    names = ["render-01", "render-02", "render-03", "render-04", "render-05", "wrangler-ws"]
    workers = [
        service.register_worker(n, "Linux 6.1.0 x86_64", f"192.168.1.{20 + i}")[0]["id"]
        for i, n in enumerate(names)
    ]

    def blender(name: str, end: int, chunk: int, prio: int) -> int:
        settings = {
            "filepath": f"/mnt/projects/{name}.blend",
            "render_output": f"/mnt/render/{name}/######",
            "frame_start": 1,
            "frame_end": end,
            "format": "PNG",
        }
        job = service.create_job(
            name=name, type="blender_render", settings=settings, priority=prio, chunk_size=chunk
        )
        return job["id"]

    done = blender("sc010_forest_lighting", 24, 4, 40)
    failed = blender("sc020_bridge_fx", 12, 4, 30)
    running = blender("sc030_chase_anim", 96, 8, 70)
    paused = blender("sc040_titles", 48, 12, 20)
    blender("sc050_river_wide", 120, 10, 10)
    await service.job_action(paused, "pause")

    error = "Error: Cannot read file '/mnt/projects/sc020_bridge_fx.blend'"
    for job_id in (done, failed):
        for task in service.list_tasks(job_id=job_id)[0]:
            # A failing task is retried until its attempts run out.
            for _ in range(service.config.max_attempts if job_id == failed else 1):
                service.update_task(task["id"], {"status": TaskStatus.RENDERING.value}, None)
                report = (
                    {"status": "completed", "time_cost": 182.0}
                    if job_id == done
                    else {"status": "failed", "error": error}
                )
                service.update_task(task["id"], report, None)

    for task in service.list_tasks(job_id=running)[0][:3]:
        service.update_task(task["id"], {"status": TaskStatus.RENDERING.value}, None)
        for frame in range(task["frame_start"], task["frame_end"] + 1):
            # Each saved frame's thumbnail, as the worker sends it (one a second at most:
            # apart in time, so the kept ones sort by upload).
            service.add_preview(task["id"], None, None, frame, frames[frame])
            await asyncio.sleep(0.01)
        service.update_task(task["id"], {"status": "completed", "time_cost": 410.0}, None)

    shown = 0
    for i, worker_id in enumerate(workers[:5]):
        task_id, lease = await service.worker_report(
            worker_id, WorkerReport.AVAILABLE, **_machine(92 - i * 7, 38 + i * 9, 14.5 - 2 * i)
        )
        if task_id is None:
            continue
        task = service.get_task(task_id)
        frame = task["frame_start"] + i + 1
        # As if it had started a while ago, so elapsed and time left read like a real farm.
        service.store.update_task(task_id, {"started": task["started"] - (95 + 40 * i)})
        service.update_task(
            task_id,
            {
                "lease": lease,
                "frame_current": frame,
                "progress": 100.0 * (frame - task["frame_start"]) / 8,
                "activity": f"Fra:{frame} | Sample {32 * (i + 1)}/128",
                "time_cost": 95.0 + 40 * i,
            },
            worker_id,
        )
        if task["job_id"] == running and not shown:
            shown = task_id
            service.append_log(task_id, _blender_log(task["frame_start"], 2), None, None)
    await service.worker_report(workers[5], WorkerReport.AVAILABLE, **_machine(6, 52, 0.4))
    service.set_worker_enabled(workers[5], False)
    service.register_worker("render-06", "Linux 6.1.0 x86_64", "192.168.1.26")
    laptop, _ = service.register_worker("old-laptop", "Windows 10", "192.168.1.40")
    await service.worker_report(laptop["id"], WorkerReport.OFFLINE)
    service.set_path_variables(
        {
            "projects": {
                "linux": "/mnt/projects",
                "windows": "P:\\",
                "darwin": "/Volumes/projects",
            },
            "render": {"linux": "/mnt/render", "windows": "R:\\", "darwin": "/Volumes/render"},
        }
    )
    # Submitted over the evening, so the clocks read like a real farm's.
    now = time.time()
    for job_id, age, finished_ago in (
        (done, 3 * 3600, 2 * 3600),
        (failed, 2 * 3600, 7000),
        (running, 1500, None),
        (paused, 5400, 3000),
        (5, 300, None),
    ):
        fields = {"created": now - age, "started": now - age + 40}
        if finished_ago is not None:
            fields["updated"] = now - finished_ago
        service.store.update_job(job_id, fields)
    return shown


async def _settle(*widgets: QWidget) -> None:
    """Let the tables apply their batches and the widgets lay out and paint (through the
    loop: calling processEvents inside a coroutine would re-enter qasync)."""
    await asyncio.sleep(0.3)
    for w in widgets:
        w.repaint()


def _save(widget: QWidget, name: str) -> None:
    path = OUT / name
    widget.grab().save(str(path))
    print(f"wrote {path}")


async def first_run(tmp: Path) -> None:
    """An empty farm's window: the guide says what to do next."""
    manager = Manager(tmp / "empty", "192.168.1.10", 7777, TOKEN)
    settings = QSettings(str(tmp / "empty.ini"), QSettings.Format.IniFormat)
    window = MainWindow(manager, settings)
    window.resize(1440, 900)
    window.show()
    await window.load()
    await _settle(window)
    _save(window, "first_run.png")
    window.quit_now()
    await window.shutdown()
    manager.store.close()


NIGHTS_AND_WEEKENDS = {
    "tz": "Europe/Amsterdam",
    "ranges": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "19:00", "end": "08:00"},
        {"days": ["sat", "sun"], "start": "00:00", "end": "24:00"},
    ],
    "on_end": "requeue",
}


async def _which_work_where(window: MainWindow, service: FarmService) -> None:
    """Issue 16's scenes: tags, a workstation's schedule, remote requests on the
    workers table; jobs waiting for a tag and for another job; the schedule editor."""
    ids = {w["hostname"]: w["id"] for w in service.list_workers()}
    for name in ("render-01", "render-02"):
        service.set_worker_tags(ids[name], ["gpu", "lookdev"])
    for name in ("render-03", "render-04"):
        service.set_worker_tags(ids[name], ["cpu"])
    service.set_worker_schedule(ids["wrangler-ws"], NIGHTS_AND_WEEKENDS)
    service.set_worker_tags(ids["wrangler-ws"], ["workstation", "gpu"])
    service.control_worker(ids["render-05"], "restart", "after_task")
    service.control_worker(ids["render-04"], "stop", "after_task")
    service.acknowledge_control(ids["render-04"], service.worker_control(ids["render-04"])["id"],
                                "acknowledged")  # fmt: skip
    comp = service.create_job(
        name="sc030_chase_comp",
        type="command",
        settings={"argv": ["nuke", "-x", "/mnt/projects/sc030_comp.nk"], "frame_start": 1,
                  "frame_end": 96},
        priority=50,
        chunk_size=24,
        depends_on=[3],
    )  # fmt: skip
    service.create_job(
        name="sc090_ocean_sim",
        type="command",
        settings={"argv": ["houdini-sim", "ocean"], "frame_start": 1, "frame_end": 4},
        priority=50,
        chunk_size=1,
        tags=["gpu", "houdini"],
    )
    window.resize(1440, 1200)  # room for every job and worker row
    window.workers.view.select_ids([ids["wrangler-ws"]], ids["wrangler-ws"])
    window.jobs.view.select_ids([comp["id"]], comp["id"])
    await _settle(window)
    _save(window.workers, "workers_tags_schedule_remote.png")
    _save(window.jobs, "jobs_waiting_for.png")

    window.farm_actions.worker_extras.edit_schedule.trigger()
    dialog = window.farm_actions.dialog
    assert dialog is not None
    dialog.adjustSize()
    await _settle(dialog)
    _save(dialog, "worker_schedule_dialog.png")
    dialog.reject()


async def shoot(app: QApplication, tmp: Path) -> None:
    frames = await asyncio.to_thread(render_frames, tmp)
    await first_run(tmp)
    manager = Manager(tmp / "data", "192.168.1.10", 7777, TOKEN)
    service = manager.service
    log_task = await populate(service, frames)
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(manager, settings)
    window.resize(1440, 900)
    window.show()
    await window.load()
    jobs = window.jobs.view
    job_id = service.get_task(log_task)["job_id"]
    jobs.select_ids([job_id], job_id)
    window.task_model.flush()
    window.tasks.view.select_ids([log_task], log_task)
    window._follow_task()
    window.statusBar().showMessage("Submitted sc050_river_wide (job 5): 12 tasks", 60_000)
    await _settle(window)
    _save(window, "main_window.png")

    window.side.setCurrentWidget(window.preview)
    await window.preview.loaded()
    await _settle(window)
    _save(window, "previews.png")

    window.split.setSizes([200, 600, 100])  # room for the details
    window.side.setCurrentWidget(window.job_details)
    await _settle(window)
    _save(window.side, "job_details.png")
    workers = window.workers.view
    busy = next(w["id"] for w in service.list_workers() if w["hostname"] == "render-01")
    workers.select_ids([busy], busy)
    window.side.setCurrentWidget(window.worker_details)
    await _settle(window)
    _save(window.side, "worker_details.png")
    window.side.setCurrentWidget(window.log)
    window.split.setSizes([300, 380, 170])

    dialog = window.open_submit()
    dialog.filepath.setText("/mnt/projects/sc060_market_day.blend")
    # The farm's render nodes see /mnt/projects: shared storage (docs/storage.md).
    dialog.storage.setCurrentIndex(dialog.storage.findData("shared"))
    await asyncio.sleep(0.6)
    dialog.frame_end.setValue(240)
    dialog.chunk_size.setValue(8)
    dialog.priority.setValue(60)
    dialog.format.setCurrentText("OPEN_EXR")
    dialog.adjustSize()
    await _settle(dialog)
    _save(dialog, "submit_dialog.png")
    dialog.filepath.setText("/mnt/projects/sc060_market_day.blend")  # not here: a warning
    await asyncio.sleep(0.6)
    dialog.frame_end.setValue(0)
    dialog.render_output.setText("")
    dialog.submit()  # refused: every reason shows
    dialog.adjustSize()
    await _settle(dialog)
    _save(dialog, "submit_dialog_invalid.png")
    dialog.reject()

    # A file on the artist's own disk: its files travel through the manager.
    dialog = window.open_submit()
    dialog.filepath.setText("/home/maya/projects/sc070_harbour.blend")
    dialog.frame_end.setValue(120)
    dialog.chunk_size.setValue(6)
    dialog.adjustSize()
    await _settle(dialog)
    _save(dialog, "submit_dialog_manager.png")
    dialog.reject()

    add = window.open_add_worker()
    add.fit(add.preferred_width)  # the offscreen "screen" is 800 px wide; a desktop is not
    await _settle(add)
    _save(add, "add_worker_dialog.png")
    add.reject()

    prefs = window.open_settings()
    prefs.adjustSize()
    await _settle(prefs)
    _save(prefs, "settings_dialog.png")
    prefs.reject()

    light, style = app.palette(), app.style().name()
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    await _settle(window)
    _save(window, "main_window_dark.png")
    app.setStyle(style)
    app.setPalette(light)
    await _which_work_where(window, service)
    window.quit_now()
    await window.shutdown()
    manager.store.close()


# Spoils frames 5 and 6 of a shot right after Blender saved them (one black, one empty).
SPOIL = """
import bpy
def spoil(scene, *args):
    path = scene.render.frame_path(frame=scene.frame_current)
    if scene.frame_current == 6:
        open(path, "wb").close()
    elif scene.frame_current == 5:
        image = bpy.data.images.new("black", 320, 180)
        image.filepath_raw = path
        image.file_format = "PNG"
        image.save()
bpy.app.handlers.render_write.append(spoil)
"""


async def _rendered(service: FarmService, job_id: int) -> None:
    while service.get_job(job_id)["status"] not in ("completed", "failed", "canceled"):
        await asyncio.sleep(0.5)


async def shoot_statistics(tmp: Path) -> None:
    """The statistics window over a farm that really rendered (needs Blender)."""
    from flamenco_gui.gui.statistics_view import StatisticsWindow
    from tests.blender_scene import make_scene, require_blender

    blender = require_blender()
    scene = make_scene(tmp / "shot.blend", frames=48, samples=24)
    manager = Manager(tmp / "farm", "127.0.0.1", 0, TOKEN)
    await manager.start()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "main.py"),
                "worker",
                "--manager",
                manager.url,
                "--token",
                TOKEN,
                "--name",
                name,
                "--work-dir",
                str(tmp / name),
                "--blender",
                blender,
                "--allow-blender-python",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("render-01", "render-02")
    ]
    try:
        service = manager.service

        def shot(name: str, frames: int, extra: list[str]) -> int:
            settings = {
                "filepath": str(scene), "frame_start": 1, "frame_end": frames,
                "render_output": str(tmp / name / "######"), "format": "PNG",
                "resolution_x": 320, "resolution_y": 180, "blender_args": extra,
            }  # fmt: skip
            return service.create_job(
                name=name, type="blender_render", settings=settings, priority=50, chunk_size=4
            )["id"]

        main_shot = shot("sc070_harbour_dusk", 48, [])
        await _rendered(service, main_shot)
        spoiled = shot("sc080_spoiled_frames", 8, ["--python-expr", SPOIL])
        await _rendered(service, spoiled)
        stats = StatisticsWindow(service)
        stats.resize(1280, 720)
        stats.show()
        for tab, name in (
            (stats.job, "statistics_job.png"),
            (stats.workers, "statistics_workers.png"),
            (stats.utilisation, "statistics_utilisation.png"),
        ):
            stats.fill_jobs(main_shot)
            stats.days.setValue(1 if tab is stats.utilisation else 7)  # a day of hours
            stats.tabs.setCurrentWidget(tab)
            await stats.refresh()
            await _settle(stats)
            _save(stats, name)
        await service.delete_job(spoiled)  # its summary stays in the farm's history
        stats.tabs.setCurrentWidget(stats.history)
        await stats.refresh()
        await _settle(stats)
        _save(stats, "statistics_history.png")
        stats.close()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(10)
        await manager.stop()


def main() -> int:
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    app = QApplication.instance() or QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)
    OUT.mkdir(parents=True, exist_ok=True)
    loop = FarmEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp, loop:
        if only in (None, "window"):
            loop.run_until_complete(shoot(app, Path(tmp)))
        if only in (None, "statistics"):
            loop.run_until_complete(shoot_statistics(Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
