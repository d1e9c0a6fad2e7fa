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
from tests.api.apiclient import Api

pytestmark = pytest.mark.timeout(30)

# Open by design: liveness, version, the status page (it asks for the token itself), and
# the pairing exchange, which a code authenticates instead of the token (tests/e2e/test_pairing.py).
OPEN = {("GET", "/health"), ("GET", "/version"), ("GET", "/"), ("POST", "/pairing")}


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
