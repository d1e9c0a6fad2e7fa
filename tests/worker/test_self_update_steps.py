"""The self-update's steps one by one, on real files: which offer wins, the smoke test,
the atomic swap (POSIX, and the Windows rename-aside order with the OS injected), and
which version a build reports. The whole update, with the real one-file executable,
runs in tests/e2e/test_self_update.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flamenco_gui import __version__
from flamenco_gui.platform_names import arch_name, newer, os_name, version_key
from flamenco_gui.worker.build_identity import BuildIdentity, identify, remember
from flamenco_gui.worker.self_update import best_offer, roll_back, smoke_test, swap

ME = BuildIdentity("0.2.0", "linux", "x86_64", Path("/opt/flamenco"), "aa")


def build(version: str, os: str = "linux", arch: str = "x86_64") -> dict:
    name = f"flamenco-{version}-{os}-{arch}"
    return {
        "name": name,
        "version": version,
        "platform": os,
        "arch": arch,
        "sha256": "B" * 64,
        "url": f"/downloads/{name}",
        "size": 1,
    }


def test_versions_compare_as_numbers() -> None:
    assert newer("0.10.0", "0.9.9") and not newer("0.2.0", "0.2.0")
    assert version_key("1.2.3+local") == (1, 2, 3) and newer("1.0", "0.99.99")


def test_the_newest_fitting_build_is_offered() -> None:
    builds = [
        build("0.1.9"),
        build("0.3.0"),
        build("0.10.0"),
        build("0.11.0", "windows"),
        build("0.12.0", arch="arm64"),
        "junk",
        {"version": 3},
    ]
    offer = best_offer(builds, ME)  # type: ignore[arg-type]
    assert offer is not None and offer.version == "0.10.0"
    assert offer.sha256 == "b" * 64  # compared in lower case
    assert best_offer([build("0.2.0"), build("0.1.0")], ME) is None


def executable(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(0o755)
    return path


def test_smoke_test_wants_the_programs_own_answer(tmp_path: Path) -> None:
    good = executable(tmp_path / "good", "print('flamenco 9.0.0')")
    assert smoke_test(good) is None
    wrong = executable(tmp_path / "wrong", "print('something else')")
    assert "exited 0" in (smoke_test(wrong) or "")
    failing = executable(tmp_path / "failing", "import sys; sys.exit(3)")
    assert "exited 3" in (smoke_test(failing) or "")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01not a program")
    garbage.chmod(0o755)
    assert "does not start" in (smoke_test(garbage) or "")


def test_posix_swap_is_one_rename_and_keeps_the_old_file(tmp_path: Path) -> None:
    exe = tmp_path / "flamenco"
    exe.write_bytes(b"old")
    staged = tmp_path / ".flamenco.update-1"
    staged.write_bytes(b"new")
    with exe.open("rb") as running:  # a running program keeps its open file
        previous = swap(staged, exe, windows=False)
        assert running.read() == b"old"
    assert exe.read_bytes() == b"new" and previous.read_bytes() == b"old"
    assert not staged.exists()
    roll_back(exe)
    assert exe.read_bytes() == b"old" and not previous.exists()


def test_windows_swap_moves_the_running_file_aside_first(tmp_path: Path) -> None:
    exe = tmp_path / "flamenco.exe"
    exe.write_bytes(b"old")
    staged = tmp_path / ".flamenco.exe.update-1"
    staged.write_bytes(b"new")
    previous = swap(staged, exe, windows=True)
    assert previous.name == "flamenco.exe.previous"
    assert exe.read_bytes() == b"new" and previous.read_bytes() == b"old"


def test_windows_swap_puts_the_old_file_back_if_the_new_cannot_go_in(tmp_path: Path) -> None:
    exe = tmp_path / "flamenco.exe"
    exe.write_bytes(b"old")
    missing = tmp_path / "vanished"
    try:
        swap(missing, exe, windows=True)
    except OSError:
        pass
    else:
        raise AssertionError("the swap of a missing file succeeded")
    assert exe.read_bytes() == b"old"


def test_a_build_reports_the_version_it_was_installed_as(tmp_path: Path) -> None:
    exe = tmp_path / "flamenco"
    exe.write_bytes(b"build bytes")
    me = identify(tmp_path, exe)
    assert me.version == __version__ and me.frozen and me.os == os_name()
    assert me.arch == arch_name()
    remember(tmp_path, "9.0.0", me.sha256 or "")
    assert identify(tmp_path, exe).version == "9.0.0"
    exe.write_bytes(b"another build")  # replaced by hand: the record no longer fits
    assert identify(tmp_path, exe).version == __version__
    source = identify(tmp_path, None)
    assert source.report() == {
        "version": __version__,
        "platform": os_name(),
        "arch": arch_name(),
        "frozen": False,
        "sha256": None,
    }
    assert not os.path.exists(tmp_path / "build.json.tmp")
