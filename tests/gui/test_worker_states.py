"""A worker that stops answering is shown amber at once and announced in the tray (and
the status bar); its timing out is announced too; a goodbye is not news."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from flamenco_gui.farm.events import Change
from flamenco_gui.gui.theme import dark_palette, status_colors
from flamenco_gui.gui.tray import JobNotifier


def _worker(connection: str, worker_id: int = 3) -> Change:
    return Change("worker", worker_id, {"id": worker_id, "hostname": "render-03",
                                        "connection": connection})  # fmt: skip


def test_unresponsive_is_amber(qapp) -> None:
    colors = status_colors(dark_palette())
    assert colors["unresponsive"] == colors["paused"]
    assert colors["unresponsive"] not in (colors["online"], colors["offline"])


def test_the_tray_says_a_worker_stopped_answering_then_timed_out(qapp) -> None:
    window = QWidget()
    shown: list[str] = []
    notifier = JobNotifier(window, shown.append)
    for connection in ("online", "online", "unresponsive", "unresponsive", "offline"):
        notifier.on_change(_worker(connection))
    assert notifier.sent == [
        ("Worker not answering", "render-03 stopped answering."),
        ("Worker offline", "render-03 timed out; its task was requeued."),
    ]
    assert shown == [text for _, text in notifier.sent]
    notifier.on_change(_worker("online", 4))
    notifier.on_change(_worker("offline", 4))  # signed off: not news
    assert len(notifier.sent) == 2
