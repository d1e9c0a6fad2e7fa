"""Command line: parse, then hand over: `manager` (window or --headless), `worker`, or
`selftest` (a whole farm on loopback, to check an install or a build)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from flamenco_gui import __version__, file_pipe
from flamenco_gui.config import DEFAULT_PORT, ManagerConfig
from flamenco_gui.farm.settings import SETTINGS
from flamenco_gui.submit import command as submit_command

# `flamenco worker|manager ACTION ...`: the service commands (flamenco_gui/service/).
SERVICE_ACTIONS = ("install-service", "uninstall-service", "status")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="flamenco", description="Flamenco Desktop Manager")
    p.add_argument("--version", action="version", version=f"flamenco {__version__}")
    sub = p.add_subparsers(dest="command")

    m = sub.add_parser("manager", help="run the manager (with its window unless --headless)")
    m.add_argument("--headless", action="store_true", help="no window (servers, CI)")
    m.add_argument("--host", default=None, help="address to listen on (default: all)")
    m.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"default {DEFAULT_PORT}, or the one chosen in the window's Settings",
    )
    m.add_argument(
        "--wake-broadcast",
        default=None,
        metavar="ADDRESS",
        help="send Wake-on-LAN packets to this address (default: each worker's subnet"
        " broadcast, as it last reported)",
    )
    m.add_argument("--data-dir", type=Path, default=None, help="default: the app-data folder")
    m.add_argument("--token", default=None, help="farm token (default: $FLAMENCO_TOKEN or stored)")
    m.add_argument(
        "--output-root",
        type=Path,
        default=None,
        help="where the frames of 'manager' storage jobs land (default: <data dir>/output)",
    )
    for setting in SETTINGS:  # one definition per setting (farm/settings.py)
        m.add_argument(
            setting.flag,
            type=setting.kind,
            default=None,
            dest=setting.key,
            help=f"{setting.help} (default {setting.default:g}, or the saved setting)",
        )
    m.add_argument(
        "--no-advertise",
        action="store_true",
        help="do not announce the manager on the LAN (mDNS); workers then need --manager",
    )
    m.add_argument("-v", "--verbose", action="store_true")

    w = sub.add_parser(
        "worker",
        help="run a worker agent on this render node",
        epilog="As a service: flamenco worker install-service|uninstall-service|status "
        "[options] (see docs/service.md).",
    )
    w.add_argument(
        "--manager",
        default=None,
        help="manager URL, e.g. http://wrangler:7777 (default: find it on the LAN)",
    )
    w.add_argument(
        "--token",
        default=None,
        help="farm token, for the first registration only (visible in `ps`: prefer "
        "--token-file or $FLAMENCO_TOKEN)",
    )
    w.add_argument(
        "--token-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="read the farm token from this file (first registration only)",
    )
    w.add_argument(
        "--cache-size",
        type=float,
        default=None,
        metavar="GIB",
        help="bound of the cache of 'manager' jobs' files in the work dir (default 20 GiB)",
    )
    w.add_argument(
        "--accept",
        default=None,
        metavar="KINDS",
        help="task kinds this node runs, comma-separated, added to the default "
        "blender_render,ffmpeg; `command` runs any program a job names",
    )
    w.add_argument(
        "--allow-blender-python",
        action="store_true",
        help="let jobs run Python in Blender (--python, --python-expr in blender_args)",
    )
    w.add_argument(
        "--tags",
        default=None,
        metavar="TAGS",
        help="tags this node offers, comma-separated (e.g. gpu,lookdev): jobs naming tags go"
        " only to workers with all of them; tags the wrangler sets win",
    )
    w.add_argument(
        "--when-idle",
        type=float,
        default=None,
        metavar="MINUTES",
        help="a workstation: take work only after keyboard and mouse were idle this long;"
        " stop (task requeued) within seconds of the user coming back",
    )
    w.add_argument(
        "--idle-source",
        default=None,
        metavar="SOURCE",
        help="where --when-idle reads idle time: auto (default), x11, logind, windows,"
        " macos, or file:PATH (idle since PATH was last modified)",
    )
    w.add_argument(
        "--idle-cpu",
        type=float,
        default=None,
        metavar="PERCENT",
        help="with --when-idle: also take no work while other processes use more CPU",
    )
    w.add_argument(
        "--slots",
        type=int,
        default=None,
        metavar="N",
        help="run N tasks at once (a worker per slot, named NAME:K, Blender given"
        " --threads of its share of the cores)",
    )
    w.add_argument(
        "--slot-env",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="with --slots: set KEY in each slot's commands' environment; {slot} is the"
        " slot's 0-based number, e.g. CUDA_VISIBLE_DEVICES={slot}",
    )
    w.add_argument("--slot", type=int, default=None, help=argparse.SUPPRESS)
    w.add_argument(
        "--allow-power",
        action="store_true",
        help="let the wrangler shut down or reboot this machine from the manager",
    )
    w.add_argument(
        "--power-command",
        default=None,
        metavar="JSON",
        help='argv the action (shutdown or reboot) is appended to, e.g. \'["sudo", "power"]\''
        " (default: systemctl poweroff/reboot; shutdown on macOS and Windows)",
    )
    w.add_argument(
        "--reset-identity",
        action="store_true",
        help="forget this work dir's worker id and secret, and register as a new worker",
    )
    w.add_argument(
        "--pair",
        default=None,
        metavar="CODE",
        help="a pairing code from the manager's window, instead of the farm token",
    )
    w.add_argument(
        "--discovery-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long to look for the manager on the LAN (default 10)",
    )
    w.add_argument("--name", default=None, help="worker name (default: hostname)")
    w.add_argument("--work-dir", type=Path, default=None)
    # Defaults left to WorkerConfig.from_args (worker/agent.py), their one definition.
    w.add_argument("--blender", default=None, help="Blender executable (default: on PATH)")
    w.add_argument("--ffmpeg", default=None, help="ffmpeg executable (default: on PATH)")
    w.add_argument("--heartbeat", type=float, default=None, metavar="SECONDS", help="default 5")
    w.add_argument(
        "--update-check",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how often to look for a newer build on the manager (default 300; 0: never)",
    )
    w.add_argument("-v", "--verbose", action="store_true")

    submit_command.add_parser(sub)

    st = sub.add_parser(
        "selftest", help="run a manager and a worker on loopback and one small job; exit 0 if done"
    )
    st.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    st.add_argument("-v", "--verbose", action="store_true")
    return p


def manager_config(
    args: argparse.Namespace, saved_port: int | None = None, saved_host: str | None = None
) -> ManagerConfig:
    """The one configuration of a manager: the flags given win over what was saved."""
    flags: dict[str, Any] = {
        "data_dir": args.data_dir,
        "host": args.host,
        "port": args.port,
        "token": args.token,
        "no_advertise": args.no_advertise,
        "output_root": args.output_root,
        "farm": {s.key: getattr(args, s.key) for s in SETTINGS if getattr(args, s.key) is not None},
        "wake_broadcast": args.wake_broadcast,
    }
    return ManagerConfig.resolve(flags, saved_port, saved_host)


async def _run_headless(config: ManagerConfig) -> int:
    from flamenco_gui.manager import Manager

    manager = Manager.from_config(config)
    await manager.start()
    print(f"flamenco manager {__version__} serving {manager.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows' loops have none (a manager service there)
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    await stop.wait()
    await manager.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] in (["worker"], ["manager"]) and raw[1:2] and raw[1] in SERVICE_ACTIONS:
        from flamenco_gui.service.commands import main as service_main

        return service_main(raw[0], raw[1], raw[2:], build_parser)
    args = build_parser().parse_args(argv)
    command = args.command or "manager"
    if args.command is None:
        args = build_parser().parse_args(["manager", *(argv if argv is not None else sys.argv[1:])])
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if command in ("worker", "manager"):
        file_pipe.keep_freed_buffers()  # files stream through both (file_pipe.py)
    if command == "worker":
        from flamenco_gui.worker.agent import main as worker_main

        return worker_main(args)
    if command == "submit":
        return submit_command.main(args)
    if command == "selftest":
        from flamenco_gui.selftest import main as selftest_main

        return selftest_main(args.timeout)
    if args.headless:
        return asyncio.run(_run_headless(manager_config(args)))
    from flamenco_gui import startup_probe

    if startup_probe.wanted():
        startup_probe.install()
    from flamenco_gui.desktop import run_desktop, saved_host, saved_port

    return run_desktop(manager_config(args, saved_port(), saved_host()))
