"""`flamenco worker|manager install-service|uninstall-service|status`.

install-service takes the options of the command it installs and writes them into the
service's command line, with absolute paths, and never a credential:

- worker: `--token T` (or $FLAMENCO_TOKEN) or `--pair CODE` are used once, now, to
  register with the manager (worker/enrol.py); the secret lands in the work dir and the
  service runs without them. Without either, the work dir must already hold credentials
  that the manager accepts.
- manager: `--token T` (or $FLAMENCO_TOKEN) is written to the data dir's `token` file
  (mode 0600), where the manager reads it; without it the manager's stored token is
  kept, or a new one is made.

System-wide when run as root (Administrator), per user otherwise; `--user`/`--system`
choose. `--unit-dir` writes elsewhere and `--no-enable` only writes the file and prints
the commands that would enable it (tests, packaging).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import platformdirs

from flamenco_gui.platform_names import os_name
from flamenco_gui.service.backends import Backend, backend_for, is_admin
from flamenco_gui.service.program import program
from flamenco_gui.service.spec import ServiceSpec

ACTIONS = ("install-service", "uninstall-service", "status")
NAMES = {"worker": "flamenco-worker", "manager": "flamenco-manager"}
DESCRIPTIONS = {
    "worker": "Flamenco render worker",
    "manager": "Flamenco manager (headless)",
}
# Exit statuses: 0 done / running, 1 the manager refused or was away, 2 bad usage,
# 3 (status) not installed or not running, as LSB init scripts and systemctl say it.
NOT_RUNNING = 3


def _parser(role: str, action: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"flamenco {role} {action}",
        description=__doc__.split("\n\n")[0],
        epilog=(
            f"Any other option is passed on to `flamenco {role}` in the service."
            if action == "install-service"
            else None
        ),
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--user",
        dest="system",
        action="store_false",
        default=None,
        help="a per-user service (default unless root/Administrator)",
    )
    mode.add_argument(
        "--system",
        dest="system",
        action="store_true",
        help="a system-wide service (default as root/Administrator)",
    )
    p.add_argument(
        "--unit-dir",
        type=Path,
        default=None,
        help="where the unit/plist/task file goes (default: the OS's place)",
    )
    p.add_argument("--platform", default=None, help=argparse.SUPPRESS)  # tests
    if role == "worker":
        p.add_argument("--work-dir", type=Path, default=None)
    else:
        p.add_argument("--data-dir", type=Path, default=None)
    if action != "status":
        p.add_argument(
            "--no-enable",
            action="store_true",
            help="only write the file; print the commands that would enable it",
        )
    if action == "install-service":
        p.add_argument(
            "--token", default=None, help="farm token, used now and never written into the service"
        )
        p.add_argument(
            "--service-user",
            default=None,
            metavar="ACCOUNT",
            help="system-wide only: the account the service runs as",
        )
        if role == "worker":
            p.add_argument(
                "--pair",
                default=None,
                metavar="CODE",
                help="a pairing code, redeemed now, instead of --token",
            )
            p.add_argument("--manager", default=None, help="manager URL (default: the LAN)")
    return p


def _system(args: argparse.Namespace) -> bool:
    return is_admin() if args.system is None else args.system


def _home_dir(role: str, args: argparse.Namespace, system: bool, platform: str) -> Path:
    """The worker's work dir / the manager's data dir, absolute: a system service on
    Linux keeps its files in /var/lib, anything else in the user's app-data folder."""
    given = args.work_dir if role == "worker" else args.data_dir
    if given is not None:
        return Path(given).expanduser().absolute()
    app = "flamenco-worker" if role == "worker" else "flamenco-manager"
    if system and os_name(platform) == "linux":
        return Path("/var/lib") / app
    if role == "manager":
        from flamenco_gui.config import default_data_dir

        return default_data_dir().absolute()
    return Path(platformdirs.user_data_dir(app)).absolute()


def _backend(args: argparse.Namespace, home: Path, system: bool, platform: str) -> Backend:
    return backend_for(platform, system, args.unit_dir, home)


def main(
    role: str,
    action: str,
    argv: list[str],
    build_parser: Callable[[], argparse.ArgumentParser],
) -> int:
    args, rest = _parser(role, action).parse_known_args(argv)
    platform = args.platform or sys.platform
    system = _system(args)
    home = _home_dir(role, args, system, platform)
    backend = _backend(args, home, system, platform)
    name = NAMES[role]
    if action == "status":
        if rest:
            print(f"unrecognized arguments: {' '.join(rest)}", file=sys.stderr)
            return 2
        return _status(role, backend, name, home)
    if action == "uninstall-service":
        if rest:
            print(f"unrecognized arguments: {' '.join(rest)}", file=sys.stderr)
            return 2
        commands = backend.uninstall(name, enable=not args.no_enable)
        print(f"removed {backend.path(name)}")
        _say_commands(commands, ran=not args.no_enable)
        return 0
    return _install(role, args, rest, build_parser, backend, home, system)


def _install(
    role: str,
    args: argparse.Namespace,
    rest: list[str],
    build_parser: Callable[[], argparse.ArgumentParser],
    backend: Backend,
    home: Path,
    system: bool,
) -> int:
    fixed = ["--work-dir" if role == "worker" else "--data-dir", str(home)]
    if role == "worker":
        if args.manager:
            fixed += ["--manager", args.manager]
        daemon = ["worker", *fixed, *rest]
    else:
        daemon = ["manager", "--headless", *fixed, *rest]
    parsed = build_parser().parse_args(daemon)  # exits 2, with argparse's message
    if getattr(parsed, "token", None) or getattr(parsed, "pair", None):  # pragma: no cover
        print("install-service: no credential goes into a service", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("FLAMENCO_TOKEN") or None
    if args.service_user and not system:
        print("install-service: --service-user needs a system-wide service", file=sys.stderr)
        return 2
    if role == "worker":
        code = _enrol_worker(parsed, token, args.pair, home)
    else:
        code = _store_manager_token(home, token)
    if code:
        return code
    argv = [*program(), *daemon]
    if token and any(token in a for a in argv):
        print("install-service: the token would appear in the command line", file=sys.stderr)
        return 2
    if args.service_user:
        _hand_over(home, args.service_user)
    spec = ServiceSpec(NAMES[role], DESCRIPTIONS[role], argv, home, args.service_user)
    try:
        commands = backend.install(spec, enable=not args.no_enable)
    except OSError as exc:
        print(f"install-service: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {backend.path(spec.name)}")
    print(f"command: {' '.join(argv)}")
    _say_commands(commands, ran=not args.no_enable)
    return 0


def _enrol_worker(
    parsed: argparse.Namespace, token: str | None, pair: str | None, work_dir: Path
) -> int:
    from flamenco_gui.discovery import DiscoveryFailed
    from flamenco_gui.worker.agent import WorkerConfig
    from flamenco_gui.worker.client import PairingRefused, TokenRefused
    from flamenco_gui.worker.enrol import EnrolFailed, enrol
    from flamenco_gui.worker.work_dir_lock import lock_work_dir

    config = replace(WorkerConfig.from_args(parsed), token=token or "", pair_code=pair)
    if not (token or pair or config.credentials_path.exists()):
        print(
            f"install-service: {config.credentials_path} does not exist: give --token "
            "(or FLAMENCO_TOKEN) or --pair CODE once, to register this worker now",
            file=sys.stderr,
        )
        return 2
    lock = lock_work_dir(work_dir)
    if lock is None:
        print(f"install-service: a worker is running on {work_dir}; stop it first", file=sys.stderr)
        return 2
    try:
        creds = asyncio.run(enrol(config))
    except (EnrolFailed, TokenRefused, PairingRefused, DiscoveryFailed) as exc:
        print(f"install-service: {exc}", file=sys.stderr)
        return 1
    finally:
        lock.close()
    print(
        f"worker {creds.id} is registered with {creds.manager}; its secret is in "
        f"{config.credentials_path}"
    )
    return 0


def _store_manager_token(data_dir: Path, token: str | None) -> int:
    from flamenco_gui.config import TOKEN_FILE, load_or_create_token

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    if token:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        os.replace(tmp, path)
    elif not path.exists():
        saved = os.environ.pop("FLAMENCO_TOKEN", None)
        try:
            load_or_create_token(data_dir)
        finally:
            if saved is not None:
                os.environ["FLAMENCO_TOKEN"] = saved
    print(f"the manager's farm token is in {path}")
    return 0


def _hand_over(home: Path, account: str) -> None:
    """A system service running as `account` must own its work/data dir."""
    home.mkdir(parents=True, exist_ok=True)
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    for path in [home, *home.rglob("*")]:
        shutil.chown(path, user=account)


def _say_commands(commands: list[list[str]], ran: bool) -> None:
    if not commands:
        return
    print("ran:" if ran else "to enable it, run:")
    for argv in commands:
        print("  " + " ".join(argv))


def _status(role: str, backend: Backend, name: str, home: Path) -> int:
    status = backend.status(name)
    print(f"service {name}: {'installed' if status.installed else 'not installed'} ({status.path})")
    running = {True: "running", False: "not running", None: "unknown"}[status.running]
    print(f"service manager says: {running}" + (f" ({status.detail})" if status.detail else ""))
    alive = status.running
    if role == "worker":
        from flamenco_gui.worker.client import Credentials
        from flamenco_gui.worker.joining import CREDENTIALS_FILE
        from flamenco_gui.worker.work_dir_lock import in_use

        busy = in_use(home)
        print(f"a worker process on {home}: {'yes' if busy else 'no'}")
        creds = Credentials.load(home / CREDENTIALS_FILE)
        print(
            f"credentials: worker {creds.id} of {creds.manager}"
            if creds
            else f"credentials: none in {home}"
        )
        alive = busy if status.running is None else status.running
    return 0 if status.installed and alive else NOT_RUNNING
