"""Status colours read on light and dark palettes (WCAG 4.5:1 against the table's
base and alternate rows), and the window picks the set for its palette."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette

from flamenco_gui.gui.theme import contrast, dark_palette, is_dark, status_colors
from tests.gui.helpers import running_window

WCAG_TEXT = 4.5


def _light() -> QPalette:
    p = QPalette()
    p.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    p.setColor(QPalette.ColorRole.AlternateBase, QColor("#f5f5f5"))
    return p


@pytest.mark.parametrize("palette", [_light(), dark_palette()], ids=["light", "dark"])
def test_every_status_colour_reads_on_its_palette(qapp, palette: QPalette) -> None:
    colors = status_colors(palette)
    assert {"queued", "rendering", "completed", "failed", "canceled", "paused"} <= set(colors)
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.AlternateBase):
        background = palette.color(role)
        for name, color in colors.items():
            ratio = contrast(color, background)
            assert ratio >= WCAG_TEXT, f"{name} {color.name()} on {background.name()}: {ratio:.2f}"


def test_the_window_switches_colours_with_the_palette(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (_manager, window):
            window.setPalette(dark_palette())
            assert is_dark(window.palette())
            assert window.task_model.colors["failed"] == status_colors(dark_palette())["failed"]
            window.setPalette(_light())
            assert window.task_model.colors["failed"] == status_colors(_light())["failed"]

    qloop.run_until_complete(scenario())
