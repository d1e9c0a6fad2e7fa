"""The workers table's Version column and the Worker menu's "Update all workers", in the
real window over a real manager (HTTP on loopback, SQLite): a worker reports its build
over HTTP as a worker does; the newer build on offer is a file named as the catalogue
expects in the data dir's downloads folder, as a wrangler drops one there."""

from __future__ import annotations

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.manager import Manager
from tests.gui.helpers import TOKEN, cell, choose, running_window, until

NEWER = "flamenco-0.9.0-linux-x86_64"


def menu(window: MainWindow, title: str) -> QMenu:
    for action in window.menuBar().actions():
        if action.text() == title and action.menu() is not None:
            found = action.menu()
            assert isinstance(found, QMenu)
            return found
    raise AssertionError(f"no {title!r} menu")


async def register(session: aiohttp.ClientSession, manager: Manager, name: str) -> tuple:
    farm = {"Authorization": f"Bearer {TOKEN}"}
    async with session.post(
        f"{manager.url}/workers", json={"hostname": name, "system": "Linux"}, headers=farm
    ) as r:
        assert r.status == 200
        obj = (await r.json())[name]
    return obj["id"], {"Authorization": f"Bearer {obj['secret']}"}


async def report(session, manager: Manager, worker: tuple, version: str, frozen: bool) -> None:
    body = {"version": version, "platform": "linux", "arch": "x86_64", "frozen": frozen}
    url = f"{manager.url}/workers/{worker[0]}/version"
    async with session.put(url, json=body, headers=worker[1]) as r:
        assert r.status == 200


@pytest.mark.timeout(60)
def test_the_version_column_shows_the_offer_and_update_all_asks_the_workers(
    qloop, qtbot, tmp_path
) -> None:
    downloads = tmp_path / "data" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / NEWER).write_bytes(b"a newer build")

    async def scenario() -> None:
        async with (
            running_window(tmp_path, qtbot) as (manager, window),
            aiohttp.ClientSession() as session,
        ):
            model = window.worker_model
            old = await register(session, manager, "old-exe")
            current = await register(session, manager, "current-exe")
            checkout = await register(session, manager, "checkout")
            await until(lambda: cell(model, old[0], "Version") == "", 5, "the new rows")
            await report(session, manager, old, "0.1.0", True)
            await report(session, manager, current, "0.9.0", True)
            await report(session, manager, checkout, "0.1.0", False)
            await until(lambda: cell(model, old[0], "Version") == "0.1.0 → 0.9.0", 5, "the offer")
            assert cell(model, current[0], "Version") == "0.9.0"
            assert cell(model, checkout[0], "Version") == "0.1.0 → 0.9.0"
            col = [c.title for c in model.columns].index("Version")
            row = model.row_of(checkout[0])
            assert row is not None
            tip = model.data(model.index(row, col), Qt.ItemDataRole.ToolTipRole)
            assert "checkout does not update itself" in tip

            # A newer build dropped while the window runs shows at the next refresh.
            (downloads / "flamenco-1.0.0-linux-x86_64").write_bytes(b"newer still")
            window.build_offers.refresh_soon()
            await until(
                lambda: cell(model, current[0], "Version") == "0.9.0 → 1.0.0", 5, "the refresh"
            )

            choose(menu(window, "&Worker"), "Update all workers")
            await until(lambda: window.farm_actions.requested_updates is not None, 5, "update all")
            assert window.farm_actions.requested_updates == sorted([old[0], current[0]])
            assert "Asked 2 workers" in window.statusBar().currentMessage()
            # The request reaches the workers through their pull, once.
            pull = {"status": "available"}
            url = f"{manager.url}/workers/{old[0]}"
            for expected in (True, None):
                async with session.patch(url, json=pull, headers=old[1]) as r:
                    assert (await r.json()).get("check_update") is expected
            url = f"{manager.url}/workers/{checkout[0]}"
            async with session.patch(url, json=pull, headers=checkout[1]) as r:
                assert "check_update" not in await r.json()

    qloop.run_until_complete(scenario())
