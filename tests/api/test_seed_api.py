"""The 2015 Manager API (manager.rst), request by request, through the real server.

Each request is sent as the doc shows it; the answer must carry the documented status
and the seed's field names and types (extra fields are allowed). The one documented
deviation: `POST /workers` answers 200, not 204, because HTTP forbids a 204 body.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.api.apiclient import Api, blender_settings, seed_task_body

pytestmark = pytest.mark.timeout(20)

NUMBER = (int, float)


def _is(value: object, *types: type | None) -> bool:
    """isinstance that accepts None in `types` and refuses bool for numbers."""
    if value is None:
        return None in types
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, tuple(t for t in types if t is not None))


# -- Tasks -----------------------------------------------------------------------------


async def test_create_task_as_documented(api: Api) -> None:
    """POST /tasks {priority, settings (a JSON string), task_id, type, parser} -> 202."""
    body = {
        "priority": 10,
        "settings": json.dumps(
            {
                "filepath": "/shots/010/anim.blend",
                "frame_start": 5,
                "frame_end": 10,
                "render_output": "/renders/010/frame_####",
                "format": "PNG",
            }
        ),
        "task_id": 1,
        "type": "blender_render",
        "parser": "blender_render",
    }
    r = await api.post("/tasks", body)
    assert r.status == 202, r
    t = r.json
    seed_types = {
        "id": (int,),
        "worker_id": (int, None),
        "priority": (int,),
        "frame_start": (int,),
        "frame_end": (int,),
        "frame_current": (int,),
        "status": (str,),
        "format": (str,),
    }
    for name, types in seed_types.items():
        assert name in t, f"seed field {name!r} missing from {t}"
        assert _is(t[name], *types), f"{name}={t[name]!r} is not {types}"
    assert t["priority"] == 10
    assert (t["frame_start"], t["frame_end"], t["frame_current"]) == (5, 10, 5)
    assert t["status"] == "queued"
    assert t["worker_id"] is None
    assert t["format"] == "PNG"

    # The task really exists, with the Blender command built from the settings string.
    detail = await api.task(t["id"])
    assert detail["parser"] == "blender_render"
    assert detail["task_id"] == 1  # the caller's own reference is kept
    (argv,) = detail["commands"]
    assert argv[:3] == ["blender", "--background", "/shots/010/anim.blend"]
    for flag, value in [
        ("--render-output", "/renders/010/frame_####"),
        ("--render-format", "PNG"),
        ("--frame-start", "5"),
        ("--frame-end", "10"),
    ]:
        assert argv[argv.index(flag) + 1] == value
    assert argv[-1] == "--render-anim"


async def test_create_task_with_2015_compiler_alias(api: Api) -> None:
    body = seed_task_body() | {"type": "simple_blender_render"}
    r = await api.post("/tasks", body)
    assert r.status == 202, r
    assert r.json["frame_start"] == 5


async def test_update_task_as_documented_without_body(api: Api) -> None:
    """`PATCH /tasks/1 HTTP/1.1` is all the doc shows: a partial update -> 204."""
    t = await api.seed_task()
    r = await api.patch(f"/tasks/{t['id']}")
    assert r.status == 204, r
    assert r.raw == b""


async def test_update_task_partially(api: Api) -> None:
    """PATCH /tasks/{id} with some fields -> 204, and only those fields change."""
    t = await api.seed_task(priority=10)
    r = await api.patch(f"/tasks/{t['id']}", {"priority": 42})
    assert r.status == 204, r
    assert r.raw == b""
    after = await api.task(t["id"])
    assert after["priority"] == 42
    assert (after["frame_start"], after["frame_end"], after["status"]) == (5, 10, "queued")

    r = await api.patch(f"/tasks/{t['id']}", {})
    assert r.status == 204, r

    r = await api.patch(f"/tasks/{t['id']}", {"status": "paused"})
    assert r.status == 204, r
    assert (await api.task(t["id"]))["status"] == "paused"


async def test_delete_task_as_documented(api: Api) -> None:
    """DELETE /tasks/{id} -> 202, and the task is gone."""
    t = await api.seed_task()
    r = await api.delete(f"/tasks/{t['id']}")
    assert r.status == 202, r
    r = await api.get(f"/tasks/{t['id']}")
    assert r.status == 404, r
    assert str(t["id"]) in r.error
    assert (await api.tasks())["total"] == 0


# -- Workers ---------------------------------------------------------------------------

SEED_WORKER_TYPES = {
    "activity": (str, None),
    "connection": (str,),
    "current_task": (int, None),
    "hostname": (str,),
    "id": (int,),
    "ip_address": (str, None),
    "log": (str, None),
    "port": (int, None),
    "status": (str,),
    "system": (str,),
    "time_cost": (*NUMBER, None),
}


def _check_worker_object(obj: dict, hostname: str, system: str) -> None:
    for name, types in SEED_WORKER_TYPES.items():
        assert name in obj, f"seed field {name!r} missing from {obj}"
        assert _is(obj[name], *types), f"{name}={obj[name]!r} is not {types}"
    assert obj["hostname"] == hostname
    assert obj["system"] == system
    assert obj["connection"] == "online"
    assert obj["status"] == "enabled"
    assert obj["current_task"] is None
    assert obj["ip_address"] == "127.0.0.1"


async def test_register_worker_as_documented(api: Api) -> None:
    """POST /workers {hostname, system} -> 200 (not the doc's 204: it has a body), the
    worker object keyed by hostname, with the worker's own `secret`."""
    r = await api.post("/workers", {"hostname": "fsiddi-macpro.local", "system": "Darwin 14.1.0"})
    assert r.status == 200, r
    assert list(r.json) == ["fsiddi-macpro.local"]
    obj = r.json["fsiddi-macpro.local"]
    _check_worker_object(obj, "fsiddi-macpro.local", "Darwin 14.1.0")
    assert isinstance(obj["secret"], str) and len(obj["secret"]) >= 16
    assert obj["secret"] != api.token

    # The secret works for the worker's own calls.
    r = await api.as_(obj["secret"]).get(f"/workers/{obj['id']}")
    assert r.status == 200, r


async def test_register_again_keeps_id_and_replaces_secret(api: Api) -> None:
    first = await api.register("render-01")
    assert (await first.api.get(f"/workers/{first.id}")).status == 200  # known, then
    second = await api.register("render-01")
    assert second.id == first.id
    assert second.secret != first.secret
    assert (await first.api.get(f"/workers/{first.id}")).status == 401
    assert (await second.api.get(f"/workers/{first.id}")).status == 200
    assert (await api.delete(f"/workers/{first.id}")).status in (200, 202, 204)
    assert (await second.api.get(f"/workers/{first.id}")).status == 401


async def test_list_workers_as_documented(api: Api) -> None:
    """GET /workers -> 200, an object keyed by hostname; the secret is never listed."""
    r = await api.get("/workers")
    assert r.status == 200, r
    assert r.json == {}

    await api.register("fsiddi-macpro.local", "Darwin 14.1.0")
    await api.register("render-02", "Linux 6.1.0")
    r = await api.get("/workers")
    assert r.status == 200, r
    assert sorted(r.json) == ["fsiddi-macpro.local", "render-02"]
    _check_worker_object(r.json["fsiddi-macpro.local"], "fsiddi-macpro.local", "Darwin 14.1.0")
    _check_worker_object(r.json["render-02"], "render-02", "Linux 6.1.0")
    for obj in r.json.values():
        assert obj.get("secret") is None


HEARTBEAT = {
    "mac_address": 158929712651,
    "update_frequent": {
        "load_average": {"15min": 2.18, "1min": 2.18, "5min": 2.11},
        "worker_cpu_percent": 7.0,
    },
    "update_less_frequent": {
        "worker_architecture": "x86_64",
        "worker_disk_percent": 90.7,
        "worker_mem_percent": 56.7,
        "worker_num_cpus": 16,
    },
}


async def test_worker_info_after_heartbeat(api: Api) -> None:
    """GET /workers/{id} -> 200 with the seed's machine report, as the heartbeat sent it."""
    w = await api.register("fsiddi-macpro.local", "Darwin 14.1.0")
    r = await w.api.patch(f"/workers/{w.id}", {"status": "available", **HEARTBEAT})
    assert r.status == 200, r

    r = await api.get(f"/workers/{w.id}")
    assert r.status == 200, r
    info = r.json
    assert info["hostname"] == "fsiddi-macpro.local"
    assert info["system"] == "Darwin 14.1.0"
    # manager.rst types mac_address as a string but shows a number: either, same value.
    assert _is(info["mac_address"], str, int)
    assert str(info["mac_address"]) == "158929712651"

    freq = info["update_frequent"]
    assert set(freq["load_average"]) == {"1min", "5min", "15min"}
    assert freq["load_average"] == {"1min": 2.18, "5min": 2.11, "15min": 2.18}
    assert freq["worker_cpu_percent"] == 7.0
    less = info["update_less_frequent"]
    assert less == HEARTBEAT["update_less_frequent"]
    assert _is(less["worker_num_cpus"], int)


async def test_heartbeat_at_registration_is_shown(api: Api) -> None:
    r = await api.post("/workers", {"hostname": "render-03", "system": "Linux", **HEARTBEAT})
    assert r.status == 200, r
    wid = r.json["render-03"]["id"]
    info = (await api.get(f"/workers/{wid}")).json
    assert info["update_frequent"]["load_average"]["15min"] == 2.18
    assert info["update_less_frequent"]["worker_architecture"] == "x86_64"


async def test_edit_worker_status_hands_out_the_queued_task_then_null(api: Api) -> None:
    """PATCH /workers/{id} {"status": "available"} -> 200 {"task_id": <the queued task>},
    then {"task_id": null} once nothing is queued."""
    a = await api.register("render-a")
    b = await api.register("render-b")

    r = await a.api.patch(f"/workers/{a.id}", {"status": "available"})
    assert r.status == 200, r
    assert r.json["task_id"] is None

    t = await api.seed_task()
    r = await a.api.patch(f"/workers/{a.id}", {"status": "available"})
    assert r.status == 200, r
    assert r.json["task_id"] == t["id"]
    assert _is(r.json["task_id"], int)
    lease = r.json["lease"]

    r = await b.api.patch(f"/workers/{b.id}", {"status": "available"})
    assert r.status == 200, r
    assert r.json == {"task_id": None, "lease": None}

    # The task is now the worker's (the seed's "rendering" status).
    detail = await api.task(t["id"])
    assert (detail["status"], detail["worker_id"]) == ("rendering", a.id)
    workers = (await api.get("/workers")).json
    assert workers["render-a"]["current_task"] == t["id"]

    # "rendering" confirms the task it runs.
    r = await a.api.patch(f"/workers/{a.id}", {"status": "rendering", "task_id": t["id"]})
    assert r.status == 200, r
    assert r.json["task_id"] == t["id"]

    # Done: the next pull answers null.
    assert (await a.report(t["id"], lease=lease, status="completed")).status == 204
    r = await a.api.patch(f"/workers/{a.id}", {"status": "available"})
    assert r.status == 200, r
    assert r.json["task_id"] is None


async def test_long_poll_answers_when_a_task_is_posted(api: Api) -> None:
    """An idle worker's `"wait": 5` pull is held on an empty queue, and answered with
    the new task's id within ~1 s of the POST /tasks that queued it."""
    w = await api.register("render-lp")
    started = time.monotonic()
    poll = asyncio.create_task(w.api.patch(f"/workers/{w.id}", {"status": "available", "wait": 5}))
    await asyncio.sleep(0.7)
    assert not poll.done(), f"answered before any task existed: {poll.result()}"

    posted = time.monotonic()
    t = await api.seed_task()
    r = await asyncio.wait_for(poll, timeout=2)
    answered = time.monotonic()

    assert r.status == 200, r
    assert r.json["task_id"] == t["id"]
    assert answered - posted < 1.0, f"answered {answered - posted:.2f} s after the POST"
    assert posted - started >= 0.7
    assert (await api.task(t["id"]))["worker_id"] == w.id


async def test_long_poll_times_out_with_null(api: Api) -> None:
    w = await api.register("render-idle")
    started = time.monotonic()
    r = await w.api.patch(f"/workers/{w.id}", {"status": "available", "wait": 1})
    elapsed = time.monotonic() - started
    assert r.status == 200, r
    assert r.json["task_id"] is None
    assert 0.9 <= elapsed < 3, elapsed


async def test_settings_extras_reach_the_command(api: Api) -> None:
    body = seed_task_body() | {
        "settings": json.dumps(blender_settings(engine="CYCLES", samples=16, format="OPEN_EXR"))
    }
    r = await api.post("/tasks", body)
    assert r.status == 202, r
    assert r.json["format"] == "OPEN_EXR"
    (argv,) = (await api.task(r.json["id"]))["commands"]
    assert argv[argv.index("--engine") + 1] == "CYCLES"
    assert argv[argv.index("--render-format") + 1] == "OPEN_EXR"
