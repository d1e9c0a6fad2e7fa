"""A .blend and everything it reads, as a pack of files named by their SHA-256.

blender-asset-tracer (BAT, what Flamenco 3's add-on packs with) finds the file's
dependencies (linked libraries, images and image sequences, sounds, caches) and
rewrites the paths of the .blend files that need it, so that inside the pack every
path is relative. Nothing is copied: BAT hands each file it would copy to our
transferrer, which only hashes it, and rewritten .blend files stay in BAT's temporary
folder until the pack is closed (upload them before that). No Blender needed.

Also reads the scene's frame range straight from the .blend (`read_scene`), for a
submission without `--frames`. Imports only the standard library and BAT, so the
Blender add-on can bundle it.
"""

from __future__ import annotations

import contextlib
import hashlib
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from blender_asset_tracer import blendfile
from blender_asset_tracer.pack import Packer, transfer

# Where the pack is laid out as far as BAT knows: never written to, only used to
# compute each file's path inside the pack.
_VIRTUAL_ROOT = "/flamenco-pack"
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PackedFile:
    path: str  # inside the pack, `/`-separated
    source: Path  # where its bytes are now (the original, or BAT's rewritten copy)
    sha256: str
    size: int

    def manifest_entry(self) -> dict[str, object]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(slots=True)
class Pack:
    blend: str  # the main .blend's path inside the pack
    files: list[PackedFile] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)  # named by the .blend, not on disk

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Hasher(transfer.FileTransferer):
    """BAT's transfer thread, made to hash instead of copy."""

    def __init__(self, root: pathlib.PurePath) -> None:
        super().__init__()
        self.root = root
        self.files: list[PackedFile] = []

    def run(self) -> None:
        for src, dst, _action in self.iter_queue():
            try:
                rel = PurePosixPath(pathlib.PurePath(dst).relative_to(self.root).as_posix())
                if str(rel) == "pack-info.txt":  # BAT's note for people: not needed
                    continue
                size = src.stat().st_size
                self.files.append(PackedFile(str(rel), Path(src), sha256_of(Path(src)), size))
                self.report_transferred(size)
            except Exception as exc:  # the thread's errors must reach the main thread
                self.error_set(f"cannot read {src}: {exc}")
                return


class _ManifestPacker(Packer):
    def _create_file_transferer(self) -> transfer.FileTransferer:
        self.hasher = _Hasher(self._target_path)
        return self.hasher


@contextlib.contextmanager
def pack(blend: Path, project: Path | None = None) -> Iterator[Pack]:
    """The pack of `blend`; paths inside it are relative to `project` (default: the
    .blend's folder; files outside it go under `_outside_project/`, as BAT does).
    The files' bytes stay readable until the context ends."""
    blend = blend.resolve()
    project = (project or blend.parent).resolve()
    packer = _ManifestPacker(blend, project, _VIRTUAL_ROOT)
    try:
        packer.strategise()
        packer.execute()
        hasher: _Hasher = packer.hasher
        if hasher.has_error:
            raise OSError(hasher.error_message)
        rel = pathlib.PurePath(packer.output_path).relative_to(packer._target_path)
        result = Pack(
            blend=rel.as_posix(),
            files=sorted(hasher.files, key=lambda f: f.path),
            missing=sorted(packer.missing_files),
        )
        yield result
    finally:
        packer.close()
        blendfile.close_all_cached()


@dataclass(frozen=True, slots=True)
class SceneInfo:
    frame_start: int
    frame_end: int
    engine: str


def read_scene(blend: Path) -> SceneInfo:
    """The active scene's frame range and render engine, read by BAT from the file
    (no Blender started). The active scene is the window's, else the first one."""
    bfile = blendfile.BlendFile(blend)
    try:
        scene = None
        for glob in bfile.find_blocks_from_code(b"GLOB"):
            scene = glob.get_pointer(b"curscene")
        if scene is None:
            scenes = bfile.find_blocks_from_code(b"SC")
            if not scenes:
                raise ValueError(f"{blend}: no scene in this .blend")
            scene = scenes[0]
        engine = scene.get((b"r", b"engine"), as_str=True)
        return SceneInfo(
            int(scene.get((b"r", b"sfra"))), int(scene.get((b"r", b"efra"))), str(engine)
        )
    finally:
        bfile.close()


def under_path_variable(blend: str | Path, variables: dict[str, dict[str, str]]) -> bool:
    """Whether the file is inside a folder a path variable names (for any platform):
    such a job's default storage is `shared`. One rule for the CLI submitter, the
    Submit dialog and the Blender add-on (which carries this module)."""
    path = Path(blend).resolve().as_posix()
    for values in variables.values():
        for value in values.values():
            root = value.replace("\\", "/").rstrip("/")
            if root and (path == root or path.startswith(root + "/")):
                return True
    return False
