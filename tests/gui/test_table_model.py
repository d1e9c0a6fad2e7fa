"""LiveTableModel: batches become consistent Qt signals, the order stays right, and
selection follows its rows through moves, inserts, removals and resets."""

from __future__ import annotations

import random

from PySide6.QtCore import QItemSelectionModel, Qt

from flamenco_gui.farm.events import Change
from flamenco_gui.gui import table_model
from flamenco_gui.gui.sorted_ids import normalise
from flamenco_gui.gui.table_model import MAX_FLUSH, Column, LiveTableModel
from flamenco_gui.gui.table_view import LiveTableView

COLUMNS = [
    Column("ID", lambda r: str(r["id"]), lambda r: r["id"]),
    Column("Status", lambda r: r["status"]),
    Column("Progress", lambda r: f"{r['progress']:.0f}%", lambda r: r["progress"]),
]
STATUSES = ["queued", "rendering", "completed", "failed"]


def _row(i: int, rng: random.Random) -> dict:
    return {"id": i, "status": rng.choice(STATUSES), "progress": rng.choice([0.0, 12.5, 50.0])}


def _shown_ids(model: LiveTableModel) -> list[int]:
    return [model.id_at(r) for r in range(model.rowCount())]


def _expected(rows: dict[int, dict], column: int, descending: bool, accept=None) -> list[int]:
    col = COLUMNS[column]
    value = col.sort or col.text
    keys = sorted((normalise(value(r)), i) for i, r in rows.items() if not accept or accept(r))
    ids = [i for _, i in keys]
    return ids[::-1] if descending else ids


def test_random_batches_keep_order_and_signals_consistent(qtmodeltester, monkeypatch) -> None:
    """Qt's own model tester checks every signal. It is slow, so the model stays small
    and a lower threshold sends the bigger batches down the reset path."""
    monkeypatch.setattr(table_model, "MAX_SIGNALS", 12)
    model = LiveTableModel("task", COLUMNS)
    qtmodeltester.check(model)
    _random_batches(model, steps=30, sizes=[1, 4, 10, 40], seed=4)


def test_random_batches_keep_order_at_scale() -> None:
    _random_batches(LiveTableModel("task", COLUMNS), steps=60, sizes=[1, 50, 700, 3000], seed=5)


def _random_batches(model: LiveTableModel, steps: int, sizes: list[int], seed: int) -> None:
    rng = random.Random(seed)
    rows: dict[int, dict] = {}
    alive: list[int] = []  # the ids in rows, for O(1) random picks
    next_id = 1
    for step in range(steps):
        column, descending = rng.randrange(3), rng.random() < 0.5
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        model.sort(column, order)
        # Batches from tiny to scattered-and-huge (which take the reset path).
        for _ in range(rng.choice(sizes)):
            roll = rng.random()
            if roll < 0.35 or not alive:
                rows[next_id] = _row(next_id, rng)
                alive.append(next_id)
                model.on_change(Change("task", next_id, rows[next_id]))
                next_id += 1
            elif roll < 0.5:
                at = rng.randrange(len(alive))
                alive[at], alive[-1] = alive[-1], alive[at]
                gone = alive.pop()
                del rows[gone]
                model.on_change(Change("task", gone, None))
            else:
                i = alive[rng.randrange(len(alive))]
                rows[i] = _row(i, rng)
                model.on_change(Change("task", i, rows[i]))
        model.flush()
        assert _shown_ids(model) == _expected(rows, column, descending), f"step {step}"
        if step % 10 == 9:
            model.set_filter(lambda r: r["status"] != "failed")
            accept = lambda r: r["status"] != "failed"  # noqa: E731
            assert _shown_ids(model) == _expected(rows, column, descending, accept)
            model.set_filter(None)


def test_selection_and_top_row_survive_live_updates(qtbot) -> None:
    rng = random.Random(7)
    model = LiveTableModel("task", COLUMNS)
    view = LiveTableView(model)
    qtbot.addWidget(view)
    view.resize(500, 300)
    view.show()
    rows = {i: {"id": i, "status": "queued", "progress": 0.0} for i in range(1, 3001)}
    model.feed(rows.values())
    model.flush()
    view.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # by progress: updates move rows
    selected = [1500, 1502, 2900]
    view.select_ids(selected, 1502)
    view.verticalScrollBar().setValue(1000)
    top = view.top_id()
    assert top is not None
    for _ in range(20):
        for _ in range(100):
            i = rng.randrange(1, 3001)
            rows[i] = {**rows[i], "progress": rng.choice([0.0, 30.0, 100.0])}
            model.on_change(Change("task", i, rows[i]))
        for selected_id in selected:  # the selected rows move too
            rows[selected_id] = {**rows[selected_id], "progress": rng.random() * 100}
            model.on_change(Change("task", selected_id, rows[selected_id]))
        model.on_change(
            Change("task", 5000 + _, {"id": 5000 + _, "status": "queued", "progress": 0.0})
        )
        model.flush()
        assert sorted(view.selected_ids()) == selected
        assert view.current_id() == 1502
        if rows[top]["progress"] == 0.0:  # its own row did not move: it stays on top
            assert view.top_id() == top
    # A filter change resets the model; the selection is restored by id.
    model.set_filter(lambda r: r["id"] != 2900)
    assert sorted(view.selected_ids()) == [1500, 1502]


def test_multi_select_over_a_reset(qtbot) -> None:
    model = LiveTableModel("task", COLUMNS)
    view = LiveTableView(model)
    qtbot.addWidget(view)
    model.feed({"id": i, "status": "queued", "progress": 0.0} for i in range(1, 101))
    model.flush()
    sel = view.selectionModel()
    for r in (3, 4, 50):
        sel.select(
            model.index(r, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    assert view.selected_ids() == [4, 5, 51]
    # 600 scattered changes at once take the reset path.
    for i in range(1, 101):
        model.on_change(Change("task", i, {"id": i, "status": "failed", "progress": 1.0}))
    for i in range(1000, 1600, 2):
        model.on_change(Change("task", i, {"id": i, "status": "queued", "progress": 0.0}))
    model.flush()
    assert view.selected_ids() == [4, 5, 51]


def test_the_timer_applies_a_big_batch_in_parts(qtbot) -> None:
    model = LiveTableModel("task", COLUMNS)
    shown: list[int] = []
    model.flushed.connect(lambda: shown.append(model.rowCount()))
    for i in range(1, MAX_FLUSH * 2 + 2):
        model.on_change(Change("task", i, {"id": i, "status": "queued", "progress": 0.0}))
    qtbot.waitUntil(lambda: model.rowCount() == MAX_FLUSH * 2 + 1, timeout=2000)
    assert shown == [MAX_FLUSH, MAX_FLUSH * 2, MAX_FLUSH * 2 + 1]


def test_a_set_change_updates_kept_rows_and_leaves_deleted_ones_gone() -> None:
    model = LiveTableModel("task", COLUMNS, fields=("id", "status", "progress"))
    model.feed({"id": i, "status": "queued", "progress": 0.0, "commands": [["x"]]} for i in (1, 2))
    model.flush()
    model.on_change(Change("task", 2, None))
    fields = {"status": "canceled", "error": "job cancel", "progress": 0.0}
    model.on_change(Change("tasks", 9, {"ids": [1, 2, 3], "fields": fields}))
    model.flush()
    assert model.get(1) == {"id": 1, "status": "canceled", "progress": 0.0}
    assert model.get(2) is None and model.get(3) is None
    assert model.known() == 1


def test_a_set_change_patches_the_models_own_rows_in_place() -> None:
    """A job action over many tasks must not allocate a row copy per task (a hundred
    thousand fresh dicts made the cyclic collector stall the loop)."""
    model = LiveTableModel("task", COLUMNS, fields=("id", "status", "progress"))
    model.feed({"id": i, "status": "queued", "progress": 0.0} for i in range(1, 2001))
    model.flush()
    before = {i: model.get(i) for i in range(1, 2001)}
    model.on_change(
        Change("tasks", 9, {"ids": list(range(1, 2001)), "fields": {"status": "paused"}})
    )
    # Not applied yet, but what another table asks for already counts it.
    assert model.get(7) == {"id": 7, "status": "paused", "progress": 0.0}
    model.flush()
    assert all(model.get(i) is before[i] for i in before)
    assert {model.get(i)["status"] for i in before} == {"paused"}


def test_a_set_change_copies_rows_kept_as_fed_and_merges_with_pending_events() -> None:
    model = LiveTableModel("task", COLUMNS)  # no `fields`: rows are kept as they were fed
    fed = [
        {"id": 1, "status": "queued", "progress": 0.0},
        {"id": 2, "status": "queued", "progress": 0.0},
    ]
    model.feed(fed)
    model.flush()
    model.on_change(Change("task", 2, {"id": 2, "status": "rendering", "progress": 40.0}))
    model.on_change(Change("tasks", 9, {"ids": [1, 2], "fields": {"status": "paused"}}))
    model.on_change(Change("tasks", 9, {"ids": [1], "fields": {"progress": 5.0}}))
    model.flush()
    assert fed[0] == {"id": 1, "status": "queued", "progress": 0.0}, "a fed row was changed"
    assert model.get(1) == {"id": 1, "status": "paused", "progress": 5.0}
    assert model.get(2) == {"id": 2, "status": "paused", "progress": 40.0}


def test_names_take_the_spare_width_but_never_less_than_their_own(qtbot) -> None:
    """A stretching column shares out the view's spare width; when the columns are
    wider than the view it keeps its own width and the view scrolls (Qt's Stretch mode
    cut the workers' names to a few letters at 1440 px)."""
    columns = [
        Column("ID", lambda r: str(r["id"]), lambda r: r["id"], width=50),
        Column("Name", lambda r: r["name"], width=150, stretch=True),
        Column("Activity", lambda r: r["name"], width=100, stretch=True),
        Column("Host", lambda r: r["name"], width=300),
    ]
    view = LiveTableView(LiveTableModel("worker", columns))
    qtbot.addWidget(view)
    view.resize(1000, 300)
    view.show()
    qtbot.waitExposed(view)
    spare = view.viewport().width() - 50 - 150 - 100 - 300
    assert spare > 0
    assert view.columnWidth(1) + view.columnWidth(2) == 250 + spare
    assert abs((view.columnWidth(1) - 150) - (view.columnWidth(2) - 100)) <= 1
    view.resize(400, 300)
    qtbot.waitUntil(lambda: view.columnWidth(1) == 150)
    assert view.columnWidth(2) == 100 and view.horizontalScrollBar().maximum() > 0
    view.setColumnWidth(3, 100)  # a fixed column dragged narrower: the names fit again
    view.resize(1000, 300)
    qtbot.waitUntil(lambda: view.columnWidth(1) > 150)
    assert sum(view.columnWidth(i) for i in range(4)) == view.viewport().width()
