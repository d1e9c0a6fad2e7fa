"""`python main.py submit FILE.blend --manager URL (--token-file F | --token T) …`

Packs the .blend with its dependencies, uploads what the manager lacks (`manager`
storage) and submits a `blender_render` job. Progress goes to stderr: a bar on a
terminal, plain lines otherwise; the last line on stdout is JSON
`{"job": ID, "output": "<folder on the manager>", "uploaded_bytes": N, ...}`.

Without `--storage`, a file under one of the manager's path-variable folders is a
`shared` job (render nodes see it there); any other is a `manager` job.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from flamenco_gui.submit.client import ManagerAPI, ManagerError, manifest
from flamenco_gui.submit.packing import Pack, PackedFile, pack, read_scene, under_path_variable

ENGINES = ("CYCLES", "BLENDER_EEVEE", "BLENDER_WORKBENCH")
MANAGER_OUTPUT = "######"  # a manager job's frames, in its output folder on the manager


def add_parser(sub: Any) -> None:
    s = sub.add_parser("submit", help="pack a .blend, upload what the manager lacks, submit it")
    s.add_argument("blend", type=Path, metavar="FILE.blend")
    s.add_argument("--manager", required=True, metavar="URL")
    token = s.add_mutually_exclusive_group(required=True)
    token.add_argument("--token", metavar="T", help="the farm token")
    token.add_argument("--token-file", type=Path, metavar="F", help="a file holding the token")
    s.add_argument("--frames", metavar="S-E", help="default: the scene's frame range")
    s.add_argument("--chunk-size", type=int, default=1, metavar="N")
    s.add_argument("--name", help="default: the file's name")
    s.add_argument("--priority", type=int, default=50, metavar="P")
    s.add_argument("--storage", choices=("manager", "shared"), default=None,
                   help="default: shared under a path variable's folder, else manager")  # fmt: skip
    s.add_argument("--engine", choices=ENGINES, default=None)
    s.add_argument("--format", default="PNG", help="the frames' file format (default PNG)")
    s.add_argument("--project", type=Path, default=None,
                   help="the pack's root folder (default: the .blend's folder)")  # fmt: skip
    s.add_argument("--output", default=None,
                   help="shared: where frames go (default //render/<name>/######)")  # fmt: skip
    s.add_argument("-v", "--verbose", action="store_true")


def parse_frames(text: str) -> tuple[int, int]:
    try:
        start, _, end = text.partition("-")
        first, last = int(start), int(end or start)
    except ValueError:
        raise SystemExit(f"submit: --frames {text!r}: expected S-E, e.g. 1-250") from None
    if last < first:
        raise SystemExit(f"submit: --frames {text!r}: the end is before the start")
    return first, last


class Progress:
    """Upload progress: a redrawn bar on a terminal, a line per file otherwise."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total = max(total, 1)
        self.done = 0
        self._out = out
        self._tty = out.isatty()
        self._current: str | None = None
        self._drawn = 0.0

    def line(self, text: str) -> None:
        if self._tty and self._current is not None:
            self._out.write("\n")
        print(text, file=self._out, flush=True)

    def on_bytes(self, file: PackedFile, n: int) -> None:
        self.done += n
        if file.path != self._current:
            self._current = file.path
            if not self._tty:
                self.line(f"uploading {file.path} ({file.size} bytes)")
        now = time.monotonic()
        if self._tty and (now - self._drawn > 0.1 or self.done >= self.total):
            self._drawn = now
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            self._out.write(
                f"\r[{bar:<30}] {share * 100:5.1f}% {self.done / 1e6:8.1f} MB  {file.path[-40:]}"
            )
            self._out.flush()

    def on_resume(self, file: PackedFile, offset: int) -> None:
        self.line(f"resuming {file.path} at byte {offset} of {file.size}")

    def finish(self) -> None:
        if self._tty and self._current is not None:
            self._out.write("\n")
            self._out.flush()


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    try:
        return Path(args.token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SystemExit(f"submit: cannot read --token-file {args.token_file}: {exc}") from None


def _settings(args: argparse.Namespace, frames: tuple[int, int], filepath: str, output: str) -> Any:
    settings: dict[str, Any] = {
        "filepath": filepath,
        "render_output": output,
        "format": args.format,
        "frame_start": frames[0],
        "frame_end": frames[1],
    }
    if args.engine:
        settings["engine"] = args.engine
    return settings


def submit_manager_job(
    api: ManagerAPI, args: argparse.Namespace, name: str, frames: tuple[int, int], err: TextIO
) -> dict[str, Any]:
    with pack(args.blend, args.project) as packed:
        _report_pack(packed, err)
        progress = Progress(packed.total_bytes, err)
        sent = api.upload(packed.files, progress.on_bytes, progress.on_resume)
        progress.finish()
        progress.line(f"uploaded {sent} bytes of {packed.total_bytes}")
        job = api.submit(
            {
                "name": name,
                "type": "blender_render",
                "priority": args.priority,
                "chunk_size": args.chunk_size,
                "storage": "manager",
                "settings": _settings(args, frames, packed.blend, MANAGER_OUTPUT),
                "files": manifest(packed),
            }
        )
        return {
            "job": job["id"],
            "output": job.get("output"),
            "storage": "manager",
            "uploaded_bytes": sent,
            "files": len(packed.files),
            "pack_bytes": packed.total_bytes,
        }


def _report_pack(packed: Pack, err: TextIO) -> None:
    print(f"packed {len(packed.files)} files, {packed.total_bytes} bytes", file=err, flush=True)
    for path in packed.missing:
        print(f"warning: the .blend names a file that does not exist: {path}", file=err)


def submit_shared_job(
    api: ManagerAPI, args: argparse.Namespace, name: str, frames: tuple[int, int]
) -> dict[str, Any]:
    blend = args.blend.resolve()
    output = args.output or f"//render/{name}/######"
    job = api.submit(
        {
            "name": name,
            "type": "blender_render",
            "priority": args.priority,
            "chunk_size": args.chunk_size,
            "settings": _settings(args, frames, str(blend), output),
        }
    )
    folder = str(PurePosixPath(output).parent)
    if folder.startswith("//"):
        folder = str(blend.parent / folder[2:])
    return {"job": job["id"], "output": folder, "storage": "shared", "uploaded_bytes": 0}


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Exit 0 once the job is submitted; 1 if the manager refused; 2 for bad input."""
    if not args.verbose:  # BAT tells of every file it opens: only with -v
        logging.getLogger("blender_asset_tracer").setLevel(logging.WARNING)
    if not args.blend.is_file():
        print(f"submit: {args.blend}: no such file", file=err)
        return 2
    frames = parse_frames(args.frames) if args.frames else None
    if frames is None:
        scene = read_scene(args.blend)
        frames = (scene.frame_start, scene.frame_end)
    name = args.name or args.blend.stem
    api = ManagerAPI(args.manager, _token(args))
    try:
        storage = args.storage
        if storage is None:
            shared = under_path_variable(args.blend, api.path_variables())
            storage = "shared" if shared else "manager"
        if storage == "manager":
            result = submit_manager_job(api, args, name, frames, err)
        else:
            result = submit_shared_job(api, args, name, frames)
    except ManagerError as exc:
        print(f"submit: the manager refused: {exc}", file=err)
        return 1
    except OSError as exc:
        print(f"submit: cannot reach the manager at {args.manager}: {exc}", file=err)
        return 1
    finally:
        api.close()
    print(json.dumps(result), file=out, flush=True)
    return 0
