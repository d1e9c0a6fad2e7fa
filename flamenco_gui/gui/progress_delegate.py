"""Paints a percentage as a slim bar behind the cell's text, in the palette's colours.

Used for task and job progress and for a worker's CPU, memory and load. The bar's
value comes from the model's BAR_ROLE, its caption from the cell's text (so sorting and
searching still see plain values). The fill is the highlight colour made translucent
and the text keeps the palette's text colour, so the caption reads on light and dark
themes alike, wherever the fill ends (a style's own progress bar puts its text half on
the fill, half off it).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from flamenco_gui.gui.table_model import BAR_ROLE


class ProgressDelegate(QStyledItemDelegate):
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
        rect = QRectF(option.rect.adjusted(4, 4, -4, -4))
        fraction = max(0.0, min(100.0, float(value))) / 100.0
        track = QColor(palette.color(QPalette.ColorRole.Text))
        track.setAlphaF(0.10)
        fill = QColor(palette.color(QPalette.ColorRole.Highlight))
        fill.setAlphaF(0.45)
        if selected:
            track = QColor(255, 255, 255, 40)
            fill = QColor(255, 255, 255, 90)
        # Plain rectangles: cheap to fill, and a table repaints its bars ten times a second.
        painter.save()
        painter.fillRect(rect, track)
        if fraction > 0:
            done = QRectF(rect)
            done.setWidth(max(2.0, rect.width() * fraction))
            painter.fillRect(done, fill)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(index.data() or ""))
        painter.restore()
