"""Every route of the real aiohttp app needs the farm token, except /health, /version
and the status page `/` (static HTML that holds no farm data; it reads with the token).

The routes come from the application itself (`make_app` with the running manager's
service), not from a hand-kept list, so a route added later is covered automatically.
"""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from flamenco_gui.api.app import make_app
from flamenco_gui.api.routing import ROUTES
from flamenco_gui.manager import Manager
from tests.api.apiclient import Api, Worker

pytestmark = pytest.mark.timeout(30)

# Open by design: liveness, version, the status page (it asks for the token itself), and
# the pairing exchange, which a code authenticates instead of the token (tests/e2e/test_pairing.py),
# and the manager's identity, which a worker checks before it sends any credential.
OPEN = {
    ("GET", "/health"),
    ("GET", "/version"),
    ("GET", "/"),
    ("POST", "/pairing"),
    ("GET", "/identity"),
}


def _app_routes(manager: Manager) -> list[tuple[str, str]]:
    """(method, path template) of every route the real app serves; HEAD is GET's shadow."""
    app: web.Application = make_app(manager.service, manager.token, manager.loop_lag)
    routes = set()
    for r in app.router.routes():
        if r.method in ("HEAD", "*"):
            continue
        info = r.resource.get_info() if r.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        assert path, f"route without a path: {r}"
        routes.add((r.method, re.sub(r"\{(\w+)(?::[^}]*)?\}", r"{\1}", path)))
    return sorted(routes)


def _concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "1", path)


async def test_the_app_serves_the_whole_route_table(manager: Manager) -> None:
    served = set(_app_routes(manager))
    table = {(r.method, re.sub(r"\{(\w+)(?::[^}]*)?\}", r"{\1}", r.path)) for r in ROUTES}
    assert served == table
    # The seven 2015 endpoints are among them.
    assert {
        ("POST", "/tasks"),
        ("PATCH", "/tasks/{task_id}"),
        ("DELETE", "/tasks/{task_id}"),
        ("GET", "/workers"),
        ("POST", "/workers"),
        ("GET", "/workers/{worker_id}"),
        ("PATCH", "/workers/{worker_id}"),
    } <= served
    assert served >= OPEN


async def test_every_route_refuses_a_missing_or_wrong_token(api: Api, manager: Manager) -> None:
    # Something to find under id 1, so a route that skipped auth would answer 2xx.
    await api.seed_task()
    await api.job(frames=(1, 1))
    await api.register("render-1")

    checked = []
    for method, template in _app_routes(manager):
        if (method, template) in OPEN:
            continue
        path = _concrete(template)
        for label, headers in (
            ("missing", {}),
            ("wrong", {"Authorization": "Bearer definitely-not-the-token"}),
            ("empty", {"Authorization": "Bearer "}),
            ("not bearer", {"Authorization": f"Basic {api.token}"}),
        ):
            r = await api.call(method, path, token=None, headers=headers)
            assert r.status == 401, f"{method} {path} with a {label} token: {r}"
            assert r.error
        checked.append((method, template))
    assert len(checked) >= 15, checked


async def test_every_route_accepts_the_farm_token(api: Api, manager: Manager) -> None:
    """The converse, so the 401s above are about the token, not a broken route: with the
    farm token no route answers 401 (nor 5xx)."""
    await api.seed_task()
    await api.job(frames=(1, 1))
    await api.register("render-1")
    for method, template in _app_routes(manager):
        if template == "/events":
            continue  # an endless stream; tests/api/test_events.py covers it
        path = _concrete(template)
        kw = {"body": {}} if method in ("POST", "PATCH", "PUT") else {}
        r = await api.call(method, path, **kw)
        assert r.status != 401 and r.status < 500, f"{method} {path}: {r}"


@pytest.mark.parametrize("path", ["/health", "/version"])
async def test_health_and_version_need_no_token(api: Api, path: str) -> None:
    r = await api.get(path, token=None)
    assert r.status == 200, r
    assert isinstance(r.json["version"], str) and r.json["version"]
    # A wrong token does not turn them into 401s either.
    r = await api.get(path, token="wrong")
    assert r.status == 200, r


async def test_health_reports_loop_lag(api: Api) -> None:
    r = await api.get("/health", token=None)
    assert r.json["status"] == "ok"
    lag = r.json["loop_lag"]
    assert {"p99_ms", "max_ms"} <= set(lag)
    assert all(isinstance(lag[k], int | float) for k in ("p99_ms", "max_ms"))


async def test_openapi_lists_every_route(api: Api, manager: Manager) -> None:
    r = await api.get("/openapi.json")
    assert r.status == 200, r
    spec = r.json
    assert spec["openapi"].startswith("3.1")
    documented = {
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    }
    served = set(_app_routes(manager))
    assert served - documented == set(), "served but not in /openapi.json"
    assert documented - served == set(), "in /openapi.json but not served"
    for method, path in served:
        op = spec["paths"][path][method.lower()]
        codes = set(op["responses"])
        assert any(c.startswith("2") for c in codes), (method, path, codes)
        if (method, path) not in OPEN:
            assert "401" in codes, (method, path, codes)
            assert op.get("security") != [], (method, path)
        else:
            assert op.get("security") == [], (method, path)


async def test_health_sums_up_the_lag_of_the_window_asked_for(api: Api) -> None:
    r = await api.get("/health?lag_window=5", token=None)
    assert r.status == 200, r
    assert r.json["loop_lag"]["window_s"] == 5
    for bad in ("0", "61", "soon"):
        r = await api.get(f"/health?lag_window={bad}", token=None)
        assert r.status == 422 and "lag_window" in r.json["error"], r


# -- every route with every role (docs/security.md) --------------------------------------

# What a worker's own secret may do with its own worker and the task it holds; anything
# else a worker asks of a WORKER route is refused: 403 (not its worker, not its task to
# read), 409 (a report on a task it holds no lease on: the lease rule says so).
OTHER_TASK_ANSWER = {
    ("GET", "/tasks/{task_id}"): 403,
    ("PATCH", "/tasks/{task_id}"): 409,
    ("POST", "/tasks/{task_id}/log"): 409,
    ("POST", "/tasks/{task_id}/preview"): 409,
    ("POST", "/tasks/{task_id}/frames"): 409,
}
BODIES = {
    ("PATCH", "/tasks/{task_id}"): {"activity": "x"},
    ("POST", "/tasks/{task_id}/log"): {"lines": ["a line"]},
    ("POST", "/tasks/{task_id}/frames"): {"path": "000001.png", "sha256": "0" * 64},
    ("PATCH", "/workers/{worker_id}"): {"status": "rendering"},
    # Its own re-registration: its generated id, with its own secret.
    ("PUT", "/workers/{worker_id}/version"): {
        "version": "0.1.0",
        "platform": "linux",
        "arch": "x86_64",
        "frozen": False,
    },
    ("POST", "/workers"): {"hostname": "render-a", "uuid": "0f0e0d0c-0b0a-4908-8706-050403020100"},
}


def _fill(template: str, worker_id: int, task_id: int) -> str:
    path = template.replace("{worker_id}", str(worker_id)).replace("{task_id}", str(task_id))
    path = path.replace("{job_id}", "1")
    if path.endswith("/preview") and "/tasks/" in path:
        path += "?frame=1&lease=1"
    return re.sub(r"\{\w+\}", "1", path)


async def test_every_route_answers_each_role_as_openapi_documents(
    api: Api, manager: Manager
) -> None:
    """No token, the viewer token, a worker secret (its own task and worker, another
    worker's) and the farm token on every route: each answer is the one the route's
    documented roles (`x-roles` in /openapi.json) imply."""
    await api.job(frames=(1, 2))
    r = await api.post("/workers", BODIES[("POST", "/workers")])
    assert r.status == 200, r
    a = Worker(r.json["render-a"]["id"], "render-a", r.json["render-a"]["secret"], api)
    b = await api.register("render-b")
    own, other = (await a.pull())["task_id"], (await b.pull())["task_id"]
    assert own is not None and other is not None
    viewer = manager.viewer_token.value
    spec = (await api.get("/openapi.json")).json
    walked = 0
    for method, template in _app_routes(manager):
        if template == "/events":
            continue  # an endless stream: its auth is the middleware's, checked below
        roles = spec["paths"][template][method.lower()]["x-roles"]
        if roles == ["anyone"]:
            assert (method, template) in OPEN
            continue
        kw = (
            {"body": BODIES.get((method, template), {})}
            if method in ("POST", "PATCH", "PUT")
            else {}
        )

        async def status(token: str | None, path: str, kw: dict = kw, method: str = method) -> int:
            return (await api.call(method, path, token=token, **kw)).status

        mine = _fill(template, a.id, own)
        theirs = _fill(template, b.id, other)
        where = f"{method} {template}"
        assert await status(None, mine) == 401, where
        got = await status(viewer, mine)
        assert (got not in (401, 403) and got < 500) if "viewer" in roles else got == 403, where
        reply = await api.call(method, mine, token=a.secret, **kw)
        got = reply.status
        if (method, template) == ("POST", "/workers") and got == 200:
            a.secret = reply.json["render-a"]["secret"]  # re-registering rotates it
        if "worker" in roles:
            assert got not in (401, 403) and got < 500, f"{where} as its own worker: {got}"
            if "{task_id}" in template or "{worker_id}" in template:
                want = OTHER_TASK_ANSWER.get((method, template), 403)
                assert await status(a.secret, theirs) == want, f"{where} on another's"
        else:
            assert got == 403, f"{where} with a worker secret: {got}"
        assert roles[0] == "admin"
        walked += 1
    assert walked >= 30
    for token, want in ((None, 401), (a.secret, 403)):
        r = await api.call("GET", "/events", token=token)
        assert r.status == want, r


async def test_a_worker_may_not_cancel_pause_or_requeue_the_task_it_holds(api: Api) -> None:
    await api.job(frames=(1, 1))
    w = await api.register("render-a")
    got = await w.pull()
    for status in ("canceled", "paused", "queued"):
        r = await w.report(got["task_id"], lease=got["lease"], status=status)
        assert r.status == 403 and "wrangler" in r.error, r
    assert (await api.task(got["task_id"]))["status"] == "rendering"
    await w.complete(got)  # what it may do


async def test_the_viewer_token_reads_and_changes_nothing(api: Api, manager: Manager) -> None:
    job = await api.job(frames=(1, 1))
    viewer = api.as_(manager.viewer_token.value)
    assert (await viewer.get("/jobs")).status == 200
    assert (await viewer.get("/workers")).status == 200
    r = await viewer.post(f"/jobs/{job['id']}/actions", {"action": "cancel"})
    assert r.status == 403 and "farm token" in r.error, r
    assert (await api.get(f"/jobs/{job['id']}")).json["status"] == "queued"
    old = manager.viewer_token.value
    manager.rotate_viewer_token()
    assert (await api.as_(old).get("/jobs")).status == 401
    assert (await api.as_(manager.viewer_token.value).get("/jobs")).status == 200
