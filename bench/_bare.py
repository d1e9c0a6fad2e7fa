"""The baseline server for bench/dispatch.py: bare aiohttp, no validation, no database.

It answers the same calls a worker makes with constant small JSON, on the manager's loop
type: plain asyncio (like `--headless`) or, with `--qasync`, qasync on a QApplication
(like the window). Run by the benchmark; not meant to be run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web

SECRET = "bare-secret"
TASK = {
    "id": 1,
    "job_id": 1,
    "type": "command",
    "parser": "generic",
    "status": "rendering",
    "lease": 1,
    "frame_start": 1,
    "frame_end": 1,
    "commands": [["true"]],
}


async def register(request: web.Request) -> web.Response:
    body = await request.json()
    name = body["hostname"]
    return web.json_response({name: {"id": 1, "hostname": name, "secret": SECRET}})


async def pull(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"task_id": 1, "lease": 1})


async def task(request: web.Request) -> web.Response:
    return web.json_response(TASK)


async def patch_task(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=204)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def serve(port: int, stop: asyncio.Event) -> None:
    app = web.Application()
    app.router.add_post("/workers", register)
    app.router.add_patch(r"/workers/{id:\d+}", pull)
    app.router.add_get(r"/tasks/{id:\d+}", task)
    app.router.add_patch(r"/tasks/{id:\d+}", patch_task)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    while not stop.is_set():  # wakes Python often enough for a signal handler to run
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    await runner.cleanup()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--qasync", action="store_true")
    args = p.parse_args()
    if not args.qasync:

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await serve(args.port, stop)

        asyncio.run(run())
        return 0

    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with loop:
        loop.run_until_complete(serve(args.port, stop))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
