"""The 2015 requests as the 2015 clients sent them: form-encoded (and multipart),
answered as the seed documents, with the same validation and errors as JSON bodies;
the 2015 task vocabulary (`finished`, `aborted`, `log`, `time_cost`); and the seed's
nested keys of `GET /workers/{id}` from registration on. Real server on loopback."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.api.apiclient import Api, Reply, blender_settings

pytestmark = pytest.mark.timeout(30)


async def _form(api: Api, method: str, path: str, fields: dict[str, Any], *,
                token: str | None = None, multipart: bool = False) -> Reply:  # fmt: skip
    data: Any
    if multipart:
        data = aiohttp.FormData()
        for k, v in fields.items():
            data.add_field(k, str(v))
        data._is_multipart = True  # force multipart/form-data even without files
    else:
        data = {k: str(v) for k, v in fields.items()}
    headers = {"Authorization": f"Bearer {token or api.token}"}
    async with api.session.request(method, api.base_url + path, data=data, headers=headers) as r:
        return Reply(r.status, r.headers, await r.read())


SEED_TASK = {
    "priority": 10,
    "type": "blender_render",
    "parser": "blender_render",
    "task_id": 7,
    "settings": json.dumps(blender_settings()),
}


@pytest.mark.parametrize("multipart", [False, True])
async def test_a_2015_farm_over_forms(api: Api, multipart: bool) -> None:
    # POST /workers {hostname, system, port}
    r = await _form(api, "POST", "/workers", {"hostname": "render-03", "system": "Linux",
                                              "port": 5000}, multipart=multipart)  # fmt: skip
    assert r.status == 200, r
    obj = r.json["render-03"]
    assert obj["port"] == 5000 and obj["system"] == "Linux"
    worker_id, secret = obj["id"], obj["secret"]
    # GET /workers/{id}: the seed's nested keys, null before any report
    r = await api.get(f"/workers/{worker_id}")
    assert r.json["update_frequent"] == {
        "load_average": {"1min": None, "5min": None, "15min": None},
        "worker_cpu_percent": None,
    }
    assert r.json["update_less_frequent"] == {
        "worker_architecture": None, "worker_disk_percent": None,
        "worker_mem_percent": None, "worker_num_cpus": None,
    }  # fmt: skip
    # POST /tasks {priority, type, parser, task_id, settings (a JSON string)} -> 202
    r = await _form(api, "POST", "/tasks", SEED_TASK, multipart=multipart)
    assert r.status == 202, r
    task = r.json
    assert task["priority"] == 10 and task["frame_start"] == 5 and task["status"] == "queued"
    # PATCH /workers/{id} {status: available} -> 200 {task_id}
    r = await _form(api, "PATCH", f"/workers/{worker_id}", {"status": "available"},
                    token=secret, multipart=multipart)  # fmt: skip
    assert r.status == 200 and r.json["task_id"] == task["id"], r
    # PATCH /tasks/{id} {activity, time_cost, log} then {status: finished} -> 204
    r = await _form(api, "PATCH", f"/tasks/{task['id']}", {"activity": "Fra:5 | Sample 3/8",
                    "time_cost": 12.5, "log": "Fra:5 Mem:1M\nSaved: '/r/5.png'"},
                    token=secret, multipart=multipart)  # fmt: skip
    assert r.status == 204, r
    r = await api.get(f"/tasks/{task['id']}")
    assert r.json["activity"] == "Fra:5 | Sample 3/8" and r.json["time_cost"] == 12.5
    r = await api.get(f"/tasks/{task['id']}/log")
    header, rest = r.text.split("\n", 1)  # the manager's attempt header first
    assert header.startswith("[manager ") and rest == "Fra:5 Mem:1M\nSaved: '/r/5.png'\n"
    r = await _form(api, "PATCH", f"/tasks/{task['id']}", {"status": "finished"},
                    token=secret, multipart=multipart)  # fmt: skip
    assert r.status == 204, r
    assert (await api.get(f"/tasks/{task['id']}")).json["status"] == "completed"
    # the wrangler's `aborted` on another task -> canceled
    r = await _form(api, "POST", "/tasks", SEED_TASK | {"task_id": 8}, multipart=multipart)
    other = r.json["id"]
    r = await _form(api, "PATCH", f"/tasks/{other}", {"status": "aborted"}, multipart=multipart)
    assert r.status == 204, r
    assert (await api.get(f"/tasks/{other}")).json["status"] == "canceled"
    # GET /workers: keyed by hostname, the seed's keys
    r = await api.get("/workers")
    assert set(r.json["render-03"]) >= {"activity", "connection", "current_task", "hostname",
        "id", "ip_address", "log", "port", "status", "system", "time_cost"}  # fmt: skip


async def test_forms_get_the_json_bodies_errors(api: Api) -> None:
    r = await _form(api, "POST", "/tasks", SEED_TASK | {"priority": "high"})
    assert r.status == 422 and "priority" in r.error, r
    r = await _form(api, "POST", "/tasks", SEED_TASK | {"colour": "red"})
    assert r.status == 422 and "colour" in r.error, r
    r = await _form(api, "POST", "/tasks", SEED_TASK | {"settings": "{not json"})
    assert r.status == 422 and "settings" in r.error, r
    r = await _form(api, "POST", "/workers", {"system": "Linux"})
    assert r.status == 422 and "hostname" in r.error, r
    r = await _form(api, "POST", "/tasks", SEED_TASK | {"status": "finished"})
    assert r.status == 422, r
    async with api.session.post(api.base_url + "/tasks", data=b"--x\r\nbroken",
        headers={"Authorization": f"Bearer {api.token}",
                 "Content-Type": "multipart/form-data; boundary=x"}) as resp:  # fmt: skip
        assert resp.status == 400
        assert "form" in (await resp.json())["error"]
    assert (await api.get("/tasks")).json["total"] == 0
