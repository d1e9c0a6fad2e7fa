"""Worker identity over the real API: an id, not a name (docs/security.md)."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from flamenco_gui.manager import Manager
from tests.api.apiclient import Api

pytestmark = pytest.mark.timeout(30)
NODE_A, NODE_B = "a" * 32, "b" * 32


async def _register(api: Api, hostname: str, ident: str, **extra: object) -> tuple[int, str]:
    r = await api.post("/workers", {"hostname": hostname, "uuid": ident, **extra})
    assert r.status == 200, r
    (obj,) = r.json.values()
    return obj["id"], obj["secret"]


async def test_two_workers_with_one_name_are_listed_apart(api: Api) -> None:
    one, _ = await _register(api, "render", str(uuid.uuid4()))
    two, _ = await _register(api, "render", str(uuid.uuid4()))
    listed = (await api.get("/workers")).json
    assert {k: v["id"] for k, v in listed.items()} == {"render": one, "render (2)": two}
    assert listed["render (2)"]["hostname"] == "render"


async def test_a_known_id_re_registers_only_with_its_own_secret(api: Api) -> None:
    ident = str(uuid.uuid4())
    worker_id, secret = await _register(api, "render", ident)
    r = await api.post("/workers", {"hostname": "render", "uuid": ident})  # the farm token
    assert r.status == 403 and "--reset-identity" in r.error, r
    _, other = await _register(api, "other", str(uuid.uuid4()))
    r = await api.as_(other).post("/workers", {"hostname": "render", "uuid": ident})
    assert r.status == 403, r
    r = await api.as_(secret).post("/workers", {"hostname": "renamed", "uuid": ident})
    assert r.status == 200, r
    assert r.json["renamed"]["id"] == worker_id  # the same worker, a new label
    assert (await api.as_(secret).get(f"/workers/{worker_id}")).status == 401  # rotated


async def test_pairing_never_takes_over_an_existing_worker(api: Api, manager: Manager) -> None:
    ident = str(uuid.uuid4())
    worker_id, secret = await _register(api, "render", ident)
    code = manager.pairing.issue().code
    body = {"code": code, "hostname": "render", "uuid": ident}
    r = await api.post("/pairing", body, token=None)
    assert r.status == 403 and "already registered" in r.error, r
    r = await api.post("/pairing", {**body, "uuid": str(uuid.uuid4())}, token=None)
    assert r.status == 200, r  # the code was not spent on the refusal
    assert r.json["render (2)"]["id"] != worker_id
    r = await api.as_(secret).patch(f"/workers/{worker_id}", {"status": "available"})
    assert r.status == 200, r  # the old worker's secret still works


async def test_one_identity_from_two_nodes_at_once_is_refused(api: Api) -> None:
    worker_id, secret = await _register(api, "render", str(uuid.uuid4()), node=NODE_A)
    me = api.as_(secret)

    async def report(status: str, node: str) -> int:
        r = await me.patch(f"/workers/{worker_id}", {"status": status, "node": node})
        return r.status

    assert await report("available", NODE_A) == 200
    r = await me.patch(f"/workers/{worker_id}", {"status": "available", "node": NODE_B})
    assert r.status == 409 and "copied work dir" in r.error and "--reset-identity" in r.error
    # Once the first says goodbye, the identity may report from elsewhere.
    assert await report("offline", NODE_A) == 200
    assert await report("available", NODE_B) == 200


async def test_dispatch_hands_out_only_accepted_kinds(api: Api) -> None:
    job = await api.job(frames=(1, 1))  # a `command` job
    worker_id, secret = await _register(
        api, "strict", str(uuid.uuid4()), accepts=["blender_render", "ffmpeg"]
    )
    got = (await api.as_(secret).patch(f"/workers/{worker_id}", {"status": "available"})).json
    assert got["task_id"] is None
    shown = (await api.get(f"/jobs/{job['id']}")).json
    assert shown["waiting_reason"] == "no worker accepts command jobs"
    r = await api.as_(secret).patch(
        f"/workers/{worker_id}", {"status": "available", "accepts": ["command"]}
    )
    assert r.json["task_id"] is None  # this report's accepts apply from the next pull
    got = (await api.as_(secret).patch(f"/workers/{worker_id}", {"status": "available"})).json
    assert got["task_id"] is not None
    r = await api.post("/workers", {"hostname": "x", "accepts": ["everything"]})
    assert r.status == 422 and "accepts" in r.error, r


async def test_identity_proves_the_manager_knows_the_worker(api: Api, manager: Manager) -> None:
    worker_id, secret = await _register(api, "render", str(uuid.uuid4()))
    nonce = "0123456789abcdef0123"
    r = await api.get(f"/identity?worker_id={worker_id}&nonce={nonce}", token=None)
    assert r.status == 200 and r.json["farm"] == manager.farm_id, r
    key = hashlib.sha256(secret.encode()).hexdigest().encode()
    host = f"127.0.0.1:{manager.port}"  # the address this client dialled
    message = f"{nonce}:{manager.farm_id}:{host}".encode()
    assert r.json["proof"] == hmac.new(key, message, hashlib.sha256).hexdigest()
    # Asked on an address that is not the manager's (a relay): no proof at all.
    relayed = await api.get(
        f"/identity?worker_id={worker_id}&nonce={nonce}",
        token=None,
        headers={"Host": "rogue.example:7777"},
    )
    assert relayed.json["proof"] is None
    r = await api.get(f"/identity?worker_id=999&nonce={nonce}", token=None)
    assert r.json["proof"] is None
    r = await api.get("/identity?nonce=short", token=None)
    assert r.status == 422, r
