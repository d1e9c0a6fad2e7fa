"""Paints a percentage as a slim bar behind the cell's text, in the palette's colours.

Used for task and job progress and for a worker's CPU, memory and load. The bar's
value comes from the model's BAR_ROLE, its caption from the cell's text (so sorting and
searching still see plain values). The fill is the highlight colour made translucent
and the text keeps the palette's text colour, so the caption reads on light and dark
themes alike, wherever the fill ends (a style's own progress bar puts its text half on
the fill, half off it).

A table repaints its bars ten times a second while a farm renders, and most cells show a
value they showed before (the same 0 %, 100 %, "2/4"): each drawn bar is kept as a
pixmap keyed by everything that shapes it, so a repaint is one pixmap copy instead of a
dozen painter calls from Python.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from flamenco_gui.gui.table_model import BAR_ROLE

CACHED_BARS = 1024  # pixmaps kept (a few KB each): every cell of a full-screen table


class ProgressDelegate(QStyledItemDelegate):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bars: OrderedDict[tuple[Any, ...], QPixmap] = OrderedDict()
        self.drawn = 0  # bars drawn rather than copied from the cache

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        value = index.data(BAR_ROLE)
        if value is None:  # nothing to measure (an offline worker): plain text
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget else QApplication.style()
        # The row's selection and alternating background first, then the bar on it.
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        area = option.rect.adjusted(4, 4, -4, -4)
        if area.width() <= 0 or area.height() <= 0:
            return
        fraction = max(0.0, min(100.0, float(value))) / 100.0
        text = str(index.data() or "")
        ratio = painter.device().devicePixelRatioF()
        font: QFont = option.font
        key = (
            area.width(),
            area.height(),
            round(fraction * area.width() * ratio),  # the fill's width in device pixels
            selected,
            text,
            palette.cacheKey(),
            font.key(),
            ratio,
        )
        bar = self._bars.get(key)
        if bar is None:
            bar = self._draw(
                area.width(), area.height(), ratio, fraction, text, selected, palette, font
            )
            self._bars[key] = bar
            if len(self._bars) > CACHED_BARS:
                self._bars.popitem(last=False)
        else:
            self._bars.move_to_end(key)
        painter.drawPixmap(area.topLeft(), bar)

    def _draw(
        self,
        width: int,
        height: int,
        ratio: float,
        fraction: float,
        text: str,
        selected: bool,
        palette: QPalette,
        font: QFont,
    ) -> QPixmap:
        self.drawn += 1
        bar = QPixmap(round(width * ratio), round(height * ratio))
        bar.setDevicePixelRatio(ratio)
        bar.fill(Qt.GlobalColor.transparent)
        rect = QRectF(0, 0, width, height)
        track = QColor(palette.color(QPalette.ColorRole.Text))
        track.setAlphaF(0.10)
        fill = QColor(palette.color(QPalette.ColorRole.Highlight))
        fill.setAlphaF(0.45)
        if selected:
            track = QColor(255, 255, 255, 40)
            fill = QColor(255, 255, 255, 90)
        painter = QPainter(bar)
        painter.fillRect(rect, track)
        if fraction > 0:
            done = QRectF(rect)
            done.setWidth(max(2.0, rect.width() * fraction))
            painter.fillRect(done, fill)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        painter.setFont(font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
        return bar
