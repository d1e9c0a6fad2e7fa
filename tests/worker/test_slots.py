"""A slot's share of the machine (worker/slots.py, worker/runner.py)."""

from __future__ import annotations

import pytest

from flamenco_gui.worker.runner import Tools
from flamenco_gui.worker.slots import slot_env, thread_share


def test_each_slot_gets_an_equal_share_of_the_cores_and_at_least_one() -> None:
    assert thread_share(2, cpus=16) == 8
    assert thread_share(3, cpus=16) == 5
    assert thread_share(4, cpus=2) == 1


def test_blender_gets_the_slots_threads_unless_the_job_set_its_own() -> None:
    tools = Tools(blender="/opt/blender/blender", blender_threads=4)
    assert tools.resolve(["blender", "-b", "x.blend", "-f", "1"]) == [
        "/opt/blender/blender", "--threads", "4", "-b", "x.blend", "-f", "1",
    ]  # fmt: skip
    assert tools.resolve(["blender", "-t", "2", "-b", "x.blend"])[1:3] == ["-t", "2"]
    assert tools.resolve(["ffmpeg", "-i", "a"]) == ["ffmpeg", "-i", "a"]


def test_slot_env_fills_in_the_slot_number() -> None:
    assert slot_env(["CUDA_VISIBLE_DEVICES={slot}", "X=1"], 1) == (
        ("CUDA_VISIBLE_DEVICES", "1"),
        ("X", "1"),
    )
    with pytest.raises(ValueError, match="KEY=VALUE"):
        slot_env(["nonsense"], 0)
    with pytest.raises(ValueError, match="only"):
        slot_env(["A={gpu}"], 0)
