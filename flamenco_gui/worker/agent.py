"""The worker agent: `python main.py worker [--manager URL] --token T | --pair CODE`.

Without `--manager` it finds the manager on the LAN (worker/joining.py).

Three loops share one aiohttp session:
- the pull loop asks for work (`PATCH /workers/{id}` "available", long-polled) once
  every earlier report is delivered, and runs the task it gets;
- while a task runs, the watch loop tells the manager so (long-polled "rendering") and
  kills the task the moment the answer names another task;
- the delivery loop sends the outbox in order, whatever the other two are doing.
See docs/worker.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import platformdirs
from pydantic import ValidationError

from flamenco_gui.compilers.kinds import BLENDER_PYTHON, DEFAULT_ACCEPTS, KINDS, refusal
from flamenco_gui.discovery import DEFAULT_TIMEOUT as DISCOVERY_TIMEOUT
from flamenco_gui.discovery import DiscoveryFailed
from flamenco_gui.farm.tags import clean_tags
from flamenco_gui.worker import sysinfo
from flamenco_gui.worker.build_identity import own_executable
from flamenco_gui.worker.client import (
    Backoff,
    Credentials,
    ManagerClient,
    ManagerUnreachable,
    NotOurManager,
    Reply,
    TokenRefused,
)
from flamenco_gui.worker.delivery import deliver_forever
from flamenco_gui.worker.file_cache import DEFAULT_MAX_BYTES, FileCache
from flamenco_gui.worker.frame_return import FrameRefused, FrameReturn
from flamenco_gui.worker.identity import load_or_create, node_id, reset
from flamenco_gui.worker.idle import CpuRule, IdleGate, idle_source
from flamenco_gui.worker.job_files import JobFiles, Layout, LayoutFailed
from flamenco_gui.worker.joining import CREDENTIALS_FILE, pair, resolve_manager
from flamenco_gui.worker.network import wake_fields
from flamenco_gui.worker.outbox import Outbox
from flamenco_gui.worker.previews import PreviewUploader
from flamenco_gui.worker.remote_control import (
    RemoteControl,
    parse_power_command,
    power_argv,
    run_power,
)
from flamenco_gui.worker.runner import Tools
from flamenco_gui.worker.self_update import UpdateInstalled, Updater, reexec, roll_back
from flamenco_gui.worker.slots import slot_env, supervise, thread_share
from flamenco_gui.worker.task_run import MAX_ERROR, Deliver, TaskRun, TaskSpec
from flamenco_gui.worker.tool_locations import find_blender
from flamenco_gui.worker.work_dir_lock import lock_work_dir

log = logging.getLogger(__name__)

# Seconds the manager may hold a long poll (it caps this below its worker timeout).
HELD = 0.5  # an answer slower than this was a held long poll
LONG_POLL = 25
# Saying goodbye must not delay a shutdown.
OFFLINE_TIMEOUT = 2.0
WORKER_PATH = "/workers/{worker_id}"
UPDATE_CHECK = 300.0
DEFAULT_GIB = DEFAULT_MAX_BYTES / 1024**3
HEARTBEAT = 5.0  # seconds between machine reports
# What `Agent.work` returns once a new build is in place: `main` re-executes.
RESTART = -1
AGENT_RESTART = -2  # the wrangler asked: the same program again, same worker
IDLE_CHECK = 0.5  # seconds between looks at the keyboard and mouse (--when-idle)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    manager: str
    token: str
    name: str
    work_dir: Path
    tools: Tools
    heartbeat: float
    pair_code: str | None = None
    discovery_timeout: float = DISCOVERY_TIMEOUT
    # Seconds between update checks (worker/self_update.py); 0 never checks.
    update_check: float = UPDATE_CHECK
    # The task kinds this node's owner lets it run (compilers/kinds.py).
    accepts: tuple[str, ...] = DEFAULT_ACCEPTS
    reset_identity: bool = False
    tags: tuple[str, ...] = ()  # offered to the manager (farm/tags.py)
    # The owner lets the wrangler shut down or reboot this machine (remote_control.py).
    allow_power: bool = False
    power_command: list[str] | None = None
    # --when-idle: render only after this many minutes without keyboard or mouse.
    when_idle: float | None = None
    idle_source: str = "auto"
    idle_cpu: float | None = None  # and only while other processes use less CPU (%)
    slots: int = 1  # --slots: tasks at once (worker/slots.py)
    slot: int | None = None  # this process is slot K of them
    # The job-file cache's bound (worker/file_cache.py), bytes.
    cache_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> WorkerConfig:
        """The command line, with defaults for whatever it left out."""
        work_dir = getattr(args, "work_dir", None) or platformdirs.user_data_dir("flamenco-worker")
        return cls(
            manager=args.manager or "",
            token=farm_token(args),
            name=getattr(args, "name", None) or socket.gethostname(),
            work_dir=Path(work_dir),
            tools=Tools(
                # A bare `blender` not on PATH: the OS's usual places (tool_locations.py).
                blender=_blender(getattr(args, "blender", None)),
                ffmpeg=getattr(args, "ffmpeg", None) or "ffmpeg",
            ),
            slots=max(1, int(getattr(args, "slots", None) or 1)),
            slot=getattr(args, "slot", None),
            heartbeat=float(getattr(args, "heartbeat", None) or HEARTBEAT),
            pair_code=getattr(args, "pair", None),
            discovery_timeout=float(getattr(args, "discovery_timeout", None) or DISCOVERY_TIMEOUT),
            update_check=float(
                UPDATE_CHECK if getattr(args, "update_check", None) is None else args.update_check
            ),
            accepts=accepted_kinds(
                getattr(args, "accept", None), bool(getattr(args, "allow_blender_python", False))
            ),
            reset_identity=bool(getattr(args, "reset_identity", False)),
            tags=offered_tags(getattr(args, "tags", None)),
            allow_power=bool(getattr(args, "allow_power", False)),
            power_command=_power_command(getattr(args, "power_command", None)),
            when_idle=getattr(args, "when_idle", None),
            idle_source=getattr(args, "idle_source", None) or "auto",
            idle_cpu=getattr(args, "idle_cpu", None),
            cache_bytes=int(float(getattr(args, "cache_size", None) or DEFAULT_GIB) * 1024**3),
        )

    def for_slot(self, slot_env_templates: list[str]) -> WorkerConfig:
        """Slot K's own config: its work dir, name, Blender threads and environment."""
        if self.slot is None:
            return self
        try:
            env = slot_env(slot_env_templates, self.slot - 1)
        except ValueError as exc:
            print(f"worker: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        tools = replace(self.tools, blender_threads=thread_share(self.slots), env=env)
        return replace(
            self,
            name=f"{self.name}:{self.slot}",
            work_dir=self.work_dir / f"slot-{self.slot}",
            tools=tools,
        )

    @property
    def credentials_path(self) -> Path:
        return self.work_dir / CREDENTIALS_FILE


def farm_token(args: argparse.Namespace) -> str:
    """--token, else --token-file's first line, else $FLAMENCO_TOKEN (the last two keep
    it out of `ps`). Only a first registration uses it (worker/client.py)."""
    if getattr(args, "token", None):
        return str(args.token)
    path = getattr(args, "token_file", None)
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(f"worker: cannot read --token-file {path}: {exc.strerror}") from None
    return os.environ.get("FLAMENCO_TOKEN", "")


def accepted_kinds(given: str | None, blender_python: bool) -> tuple[str, ...]:
    """The defaults plus what the owner added; exits (2) naming an unknown kind."""
    extra = [k.strip() for k in (given or "").split(",") if k.strip()]
    unknown = sorted(set(extra) - set(KINDS))
    if unknown:
        print(
            f"worker: --accept: unknown kind {', '.join(unknown)} (known: {', '.join(KINDS)})",
            file=sys.stderr,
        )
        raise SystemExit(2)
    kinds = [*DEFAULT_ACCEPTS, *extra, *([BLENDER_PYTHON] if blender_python else [])]
    return tuple(dict.fromkeys(kinds))


def offered_tags(given: str | None) -> tuple[str, ...]:
    """--tags as the manager stores them; exits (2) naming a bad one."""
    try:
        return tuple(clean_tags((given or "").split(",")))
    except ValueError as exc:
        print(f"worker: --tags: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _power_command(given: str | None) -> list[str] | None:
    try:
        return parse_power_command(given)
    except ValueError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _blender(given: str | None) -> str:
    if given and given != "blender":
        return given
    return find_blender()


def who(config: WorkerConfig) -> dict[str, Any]:
    """What every report says of this node: what it accepts and where it runs."""
    return {
        "accepts": list(config.accepts),
        "node": node_id(config.work_dir),
        "tags": list(config.tags),
        "allow_power": config.allow_power,
        **wake_fields(),  # MACs and broadcast addresses, for Wake-on-LAN
    }


async def registration_body(config: WorkerConfig) -> dict[str, Any]:
    """`POST /workers`: who this node is (its generated id), with its first figures."""
    sample = await sysinfo.collect_async(config.work_dir)
    return {
        "hostname": config.name,
        "system": sample["system"],
        "uuid": load_or_create(config.work_dir),
        **who(config),
        **sysinfo.heartbeat_fields(sample),
    }


class IdentityInUse(Exception):
    """The manager says this identity is running elsewhere (a copied work dir)."""


class Leaving(Exception):
    """The wrangler's request ends this agent: `code` is what `work` returns."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Agent:
    def __init__(
        self,
        config: WorkerConfig,
        client: ManagerClient,
        outbox: Outbox,
        updater: Updater | None = None,
        idle: IdleGate | None = None,
    ) -> None:
        self._config = config
        self._idle = idle
        self._updater = updater
        self._client = client
        self._outbox = outbox
        self._current: TaskRun | None = None
        self._reachable = True
        self._previews = PreviewUploader(client)
        self._control = RemoteControl(config.work_dir)
        self._job_files = JobFiles(
            client, FileCache(config.work_dir / "cache", config.cache_bytes), config.work_dir
        )
        self._frames = FrameReturn(client)
        self._laying_out: asyncio.Task[Layout | None] | None = None

    async def work(self) -> int:
        """Pull and run tasks, delivering reports alongside, until cancelled (which kills
        a running task). The loops only end by raising: returns 1 if the farm token was
        refused, the one error retrying cannot mend, and RESTART when a new build of
        this program was installed between two tasks."""
        code = 1
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pull_loop())
                group.create_task(deliver_forever(self._outbox, self._client, self._rejected))
                group.create_task(self._previews.run())
        except* (TokenRefused, IdentityInUse) as refused:
            log.error("%s", refused.exceptions[0])
        except* UpdateInstalled:
            code = RESTART
        except* Leaving as leaving:
            code = next(e.code for e in leaving.exceptions if isinstance(e, Leaving))
        return code

    async def say_offline(self) -> None:
        """Tell the manager this worker is leaving, so it requeues its task at once."""
        if self._client.worker_id is None:
            return
        try:
            await self._client.call(
                "PATCH", WORKER_PATH, {"status": "offline"}, timeout=OFFLINE_TIMEOUT
            )
            log.info("told the manager this worker is going offline")
        except (ManagerUnreachable, TokenRefused) as exc:
            log.warning("could not tell the manager this worker is leaving: %s", exc)

    # -- the pull ----------------------------------------------------------------------

    async def _pull_loop(self) -> None:
        backoff = Backoff()
        loop = asyncio.get_running_loop()
        while True:
            # "available" makes the manager requeue whatever it thinks this worker
            # runs, so every report of the previous task must have arrived first.
            await self._outbox.drained()
            await self._obey()  # the wrangler's request, now that nothing runs
            if await self._wait_while_busy(backoff):
                continue
            if self._updater is not None:  # between tasks: nothing runs, nothing unsent
                await self._updater.between_tasks()
            started = loop.time()
            reply = await self._heartbeat({"status": "available", "wait": LONG_POLL}, backoff)
            if reply is None:
                continue
            if reply.status == 409:  # this identity is live elsewhere: a copied work dir
                raise IdentityInUse(f"manager refused this worker: {reply.error}")
            if not reply.ok or not isinstance(reply.data, dict):
                log.warning("manager refused the heartbeat: %s", reply.error)
                await backoff.sleep()
                continue
            task_id, lease = reply.data.get("task_id"), reply.data.get("lease")
            check = reply.data.get("check_update") is True
            news = self._control.see(reply.data.get("control"))
            if check and self._updater is not None:
                self._updater.check_now()  # before the next pull: after this task, if any
            if task_id is not None and lease is not None:
                await self._run_task(int(task_id), int(lease))
            elif not (check or news):
                await self._pace(loop.time() - started)

    async def _wait_while_busy(self, backoff: Backoff) -> bool:
        """--when-idle: while the machine is in use, say why (a report that takes
        nothing) and look again every half second, reporting once a heartbeat; True
        if it was busy."""
        if self._idle is None or (busy := self._idle.busy()) is None:
            return False
        await self._heartbeat({"status": "available", "refuse": busy}, backoff)
        loop = asyncio.get_running_loop()
        until = loop.time() + self._config.heartbeat
        while loop.time() < until and self._idle.busy() == busy:
            await asyncio.sleep(IDLE_CHECK)
        return True

    async def _obey(self) -> None:
        """Carry out the wrangler's request while this worker runs nothing."""
        control = self._control.pending
        if control is None:
            return
        action = str(control.get("action"))
        if action == "stop":
            self._control.say("done")  # sent with the next pull; it then waits, idle
            return
        if action == "restart":
            self._control.say("restarting")
            await self._report_now({"status": "available"})
            self._control.leave_restart_note()
            log.info("restarting at the wrangler's request")
            raise Leaving(AGENT_RESTART)
        if action in ("shutdown", "reboot") and self._config.allow_power:
            self._control.say("done")
            await self._report_now({"status": "offline"})
            await run_power(power_argv(action, self._config.power_command))
            raise Leaving(0)
        log.warning("ignoring the request to %s: not started with --allow-power", action)

    async def _report_now(self, body: dict[str, Any]) -> None:
        """One report carrying the acknowledgement, without waiting for news."""
        try:
            await self._heartbeat_once({**body, "wait": 0})
        except ManagerUnreachable as exc:
            log.warning("could not tell the manager: %s", exc)

    async def _pace(self, elapsed: float) -> None:
        """Never busy-loop on a manager that answers without holding the poll; but
        after a held poll, ask again at once: the manager caps the hold below its
        worker timeout, and waiting longer could let that timeout pass."""
        if elapsed < HELD:
            await asyncio.sleep(self._config.heartbeat - elapsed)

    async def _heartbeat(self, body: dict[str, Any], backoff: Backoff) -> Reply | None:
        """One `PATCH /workers/{id}` with this node's figures; None (after backing off)
        when the manager cannot be reached."""
        try:
            reply = await self._heartbeat_once(body)
        except ManagerUnreachable as exc:
            if self._reachable:
                log.warning("manager unreachable, retrying: %s", exc)
                self._reachable = False
            await backoff.sleep()
            return None
        if not self._reachable:
            log.info("manager is back")
            self._reachable = True
        backoff.reset()
        return reply

    async def _heartbeat_once(self, body: dict[str, Any]) -> Reply:
        sample = await sysinfo.collect_async(self._config.work_dir)
        ack = self._control.fields()
        reply = await self._client.call(
            "PATCH",
            WORKER_PATH,
            {**body, **who(self._config), **sysinfo.heartbeat_fields(sample), **ack},
            timeout=LONG_POLL + 10,
        )
        if reply.ok:
            self._control.sent(ack)
        return reply

    # -- a task ------------------------------------------------------------------------

    async def _fetch_task(self, task_id: int) -> Reply:
        """`GET /tasks/{id}`, retried while the manager is away: it keeps the lease
        across a restart, so the task is still ours when it is back."""
        backoff = Backoff()
        while True:
            try:
                return await self._client.call("GET", f"/tasks/{task_id}")
            except ManagerUnreachable as exc:
                log.debug("could not fetch task %d, retrying: %s", task_id, exc)
                await backoff.sleep()

    async def _run_task(self, task_id: int, lease: int) -> None:
        reply = await self._fetch_task(task_id)
        if not reply.ok:
            log.warning("could not fetch task %d: %s", task_id, reply.error)
            return
        try:
            spec = TaskSpec.model_validate(reply.data)
        except ValidationError as exc:
            error = f"worker cannot run this task: {exc}"[:MAX_ERROR]
            log.warning("task %d: %s", task_id, error)
            self._outbox.put_final(task_id, lease, {"status": "failed", "error": error})
            return
        # Checked here, from the commands themselves: the manager may be wrong.
        refused = refusal(spec.commands, self._config.accepts)
        if refused is not None:
            log.warning("task %d refused: %s", task_id, refused)
            self._outbox.put_final(task_id, lease, {"status": "failed", "error": refused})
            return
        # The manager hears from us while the job's files arrive, as while it renders.
        watch = asyncio.create_task(self._watch(task_id, lease))
        user: asyncio.Task[None] | None = None
        layout: Layout | None = None
        try:
            self._laying_out = (
                asyncio.create_task(self._job_files.lay_out(task_id))
                if spec.storage == "manager"
                else None
            )
            try:
                if self._laying_out is not None:
                    layout = await self._laying_out
            except LayoutFailed as exc:
                log.warning("task %d: %s", task_id, exc)
                error = f"job files: {exc}"[:MAX_ERROR]
                self._outbox.put_final(task_id, lease, {"status": "failed", "error": error})
                return
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the worker is stopping
                return  # `_abandon`: the task was taken away while its files arrived
            finally:
                self._laying_out = None
            run = TaskRun(
                spec,
                lease,
                self._config.tools,
                self._outbox,
                self._previews.offer,
                folder=layout.folder if layout else None,
                deliver=self._frames_of(task_id, lease, layout) if layout else None,
            )
            if layout is not None:
                run.note(layout.note)
            self._current = run
            if self._idle:
                user = asyncio.create_task(self._stop_when_busy(run))
            await run.run()
        finally:
            self._current = None
            watch.cancel()
            if user is not None:
                user.cancel()
            if layout is not None:
                await self._job_files.clean_up(layout)

    async def _stop_when_busy(self, run: TaskRun) -> None:
        """--when-idle: the user is back: kill the task now; the next report ("user
        active", taking nothing) gives it back to the manager, which requeues it."""
        assert self._idle is not None
        while (busy := self._idle.busy()) is None:
            await asyncio.sleep(IDLE_CHECK)
        await run.abandon(f"{busy}: stopped, the manager requeues it")

    def _frames_of(self, task_id: int, lease: int, layout: Layout) -> Deliver:
        """What a `manager` task's success waits for: its frames on the manager."""

        async def deliver(saved: list[str], on_activity: Callable[[str], None]) -> str | None:
            try:
                await self._frames.send(task_id, lease, layout.folder, saved, on_activity)
            except FrameRefused as exc:
                return f"frames: {exc}"
            return None

        return deliver

    async def _abandon(self, task_id: int, lease: int, reason: str) -> None:
        """The task is no longer ours: kill it, or stop fetching its files."""
        run = self._current
        if run is not None and (run.task_id, run.lease) == (task_id, lease):
            await run.abandon(reason)
        elif self._laying_out is not None:
            log.warning("task %d: %s; no longer fetching its files", task_id, reason)
            self._laying_out.cancel()

    async def _watch(self, task_id: int, lease: int) -> None:
        """Heartbeat while rendering; kill the task as soon as it is no longer ours."""
        backoff = Backoff()
        loop = asyncio.get_running_loop()
        body = {"status": "rendering", "task_id": task_id, "wait": LONG_POLL}
        while True:
            started = loop.time()
            reply = await self._heartbeat(body, backoff)
            if reply is None:
                continue
            if reply.status in (404, 409):
                await self._abandon(
                    task_id, lease, f"manager refused the heartbeat ({reply.error})"
                )
                return
            if reply.ok and isinstance(reply.data, dict):
                now_id, now_lease = reply.data.get("task_id"), reply.data.get("lease")
                if now_id != task_id or now_lease not in (None, lease):
                    await self._abandon(
                        task_id, lease, f"manager now wants task {now_id} (lease {now_lease})"
                    )
                    return
                if self._control.see(reply.data.get("control")):
                    continue  # acknowledge it at once
            else:
                log.warning("manager refused the heartbeat: %s", reply.error)
                await backoff.sleep()
            await self._pace(loop.time() - started)

    async def _rejected(self, task_id: int, lease: int) -> None:
        """The manager refused a report (409/404): that task run is over for us."""
        await self._abandon(task_id, lease, "manager refused its reports")


async def _join_and_serve(config: WorkerConfig) -> int:
    """Find the manager unless told, then serve; 1 when no manager could be found."""
    try:
        url = await resolve_manager(
            config.manager, Credentials.load(config.credentials_path), config.discovery_timeout
        )
    except DiscoveryFailed as exc:
        log.error("%s", exc)
        return 1
    return await _serve(replace(config, manager=url), discovered=not config.manager)


def _on_stop_signals(stop: Callable[[], None]) -> None:
    """SIGTERM / Ctrl+C stop the worker. Windows' loops have no signal handlers: there
    a plain handler hands the stop to the loop (Ctrl+C and Ctrl+Break, and SIGTERM as
    far as Windows has one)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop)
        except NotImplementedError:  # pragma: no cover - Windows
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop))


async def _serve(config: WorkerConfig, discovered: bool = False) -> int:
    """Run the worker; a manager found by `discovered` is checked before anything."""
    stopping = asyncio.Event()
    _on_stop_signals(stopping.set)
    outbox = Outbox(config.work_dir / "outbox.jsonl")
    log.info(
        "worker %s starting: manager %s, work dir %s", config.name, config.manager, config.work_dir
    )
    try:
        async with aiohttp.ClientSession() as session:
            client = ManagerClient(
                session,
                config.manager,
                config.token,
                config.credentials_path,
                functools.partial(registration_body, config),
            )
            if discovered:
                try:
                    await client.verify_manager()
                except NotOurManager as exc:
                    log.error("%s", exc)
                    return 1
                except ManagerUnreachable as exc:
                    log.error("could not check the manager found at %s: %s", config.manager, exc)
                    return 1
            registration = await registration_body(config)
            if config.pair_code and not await pair(client, config.pair_code, registration):
                return 1
            updater = Updater(client, config.work_dir, config.update_check, own_executable())
            agent = Agent(config, client, outbox, updater, idle_gate(config))
            work = asyncio.create_task(agent.work())
            stop = asyncio.create_task(stopping.wait())
            await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if work.done():
                return work.result()
            log.info("signal received: stopping")
            work.cancel()  # kills the running task, if any
            with contextlib.suppress(asyncio.CancelledError):
                await work
            await agent.say_offline()
            return 0
    finally:
        outbox.close()


def idle_gate(config: WorkerConfig) -> IdleGate | None:
    """--when-idle's gate; exits (2) naming why no idle source works here."""
    if config.when_idle is None:
        return None
    try:
        source = idle_source(config.idle_source)
    except RuntimeError as exc:
        print(f"worker: --when-idle: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("rendering only after %g min idle (%s)", config.when_idle, source.name)
    cpu = CpuRule(config.idle_cpu) if config.idle_cpu is not None else None
    return IdleGate(source, config.when_idle, cpu)


def _restart_agent() -> None:
    """The same program with the same options (exec: the same process on POSIX)."""
    executable = own_executable()
    if executable is not None:
        reexec(executable)
    else:
        reexec(Path(sys.executable), list(sys.orig_argv[1:]))


def _unbundle_environment() -> None:
    """In the PyInstaller executable, give the commands this worker runs (Blender,
    ffmpeg) the library path the user had, not the bundle's: the bootloader prepends
    its unpack folder to LD_LIBRARY_PATH, and Blender must not load our libstdc++ or
    OpenSSL. This process is unaffected (its libraries are already loaded)."""
    if not getattr(sys, "frozen", False):
        return
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


def main(args: argparse.Namespace) -> int:
    """Run a worker until SIGTERM/Ctrl+C (exit 0); 2 for a bad command line, 1 when no
    manager is found or it refuses the farm token, the worker's secret or the code."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = WorkerConfig.from_args(args)
    config = config.for_slot(list(getattr(args, "slot_env", None) or []))
    if config.slots > 1 and config.pair_code:
        print("worker: --pair registers one worker; with --slots use the farm token",
              file=sys.stderr)  # fmt: skip
        return 2
    if config.reset_identity:
        probe = lock_work_dir(config.work_dir)  # never under a running worker's feet
        if probe is None:
            print(
                f"worker: a worker is running in {config.work_dir}: stop it first", file=sys.stderr
            )
            return 2
        probe.close()
        for path in reset(config.work_dir, (CREDENTIALS_FILE,)):
            print(f"worker: removed {path}: this node registers as a new worker", file=sys.stderr)
    if not (config.token or config.pair_code or config.credentials_path.exists()):
        print(
            "worker: --token (or FLAMENCO_TOKEN) or --pair CODE is required: the farm token "
            "or a pairing code, both shown by the manager's window",
            file=sys.stderr,
        )
        return 2
    _unbundle_environment()
    lock = lock_work_dir(config.work_dir)
    if lock is None:
        print(
            f"worker: another worker is using {config.work_dir}; give each its own --work-dir",
            file=sys.stderr,
        )
        return 2
    if config.slots > 1 and config.slot is None:
        try:
            return supervise(config.slots)  # each slot a worker of its own
        finally:
            lock.close()
    try:
        while True:
            code = asyncio.run(_join_and_serve(config))
            if code == AGENT_RESTART:
                lock.close()  # the restarted agent takes the work dir's lock itself
                try:
                    _restart_agent()
                except OSError as exc:
                    log.error("could not restart this worker: %s", exc)
                return 1
            if code != RESTART:
                return code
            executable = own_executable()
            assert executable is not None  # only a frozen worker installs builds
            lock.close()  # the new build takes the work dir's lock itself
            try:
                reexec(executable)
            except OSError as exc:
                log.error("could not start the new build (%s): back to the previous one", exc)
                roll_back(executable)
                lock = lock_work_dir(config.work_dir)
                if lock is None:
                    return 2
    finally:
        if lock is not None:
            lock.close()
