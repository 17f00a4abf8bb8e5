"""A small histogram plot with threshold lines; clicking it picks a threshold."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

__all__ = ["HistogramView"]


class HistogramView(QWidget):
    """Log-scaled intensity histogram of the displayed slice, with the current threshold(s)."""

    threshold_picked = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Intensity histogram of the displayed slice (log scale). Click to set a manual threshold.")
        self.counts = np.zeros(0)
        self.centers = np.zeros(0)
        self.thresholds: list[float] = []
        self.caption = ""

    def set_histogram(self, counts: np.ndarray, centers: np.ndarray) -> None:
        self.counts = np.asarray(counts, dtype=np.float64)
        self.centers = np.asarray(centers, dtype=np.float64)
        self.update()

    def set_thresholds(self, thresholds: list[float], caption: str = "") -> None:
        self.thresholds = [float(t) for t in thresholds]
        self.caption = caption
        self.update()

    # -- geometry -------------------------------------------------------------------------------
    def _plot_rect(self) -> QRectF:
        return QRectF(6, 4, max(self.width() - 12, 1), max(self.height() - 22, 1))

    def _value_range(self) -> tuple[float, float]:
        if self.centers.size == 0:
            return 0.0, 1.0
        half = (self.centers[1] - self.centers[0]) / 2 if self.centers.size > 1 else 0.5
        return float(self.centers[0] - half), float(self.centers[-1] + half)

    def x_to_value(self, x: float) -> float:
        r = self._plot_rect()
        lo, hi = self._value_range()
        return lo + (min(max(x, r.left()), r.right()) - r.left()) / r.width() * (hi - lo)

    def value_to_x(self, v: float) -> float:
        r = self._plot_rect()
        lo, hi = self._value_range()
        return r.left() + (v - lo) / ((hi - lo) or 1.0) * r.width()

    # -- Qt ---------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton and self.counts.size:
            pos = event.position() if hasattr(event, "position") else event.pos()
            self.threshold_picked.emit(self.x_to_value(pos.x()))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.WindowText)
        r = self._plot_rect()
        p.fillRect(r, pal.color(QPalette.ColorRole.Base))
        if self.counts.size:
            heights = np.log1p(self.counts)
            top = heights.max() or 1.0
            xs = np.linspace(r.left(), r.right(), self.counts.size + 1)
            path = QPainterPath(QPointF(r.left(), r.bottom()))
            for i, h in enumerate(heights):
                y = r.bottom() - h / top * (r.height() - 2)
                path.lineTo(QPointF(xs[i], y))
                path.lineTo(QPointF(xs[i + 1], y))
            path.lineTo(QPointF(r.right(), r.bottom()))
            path.closeSubpath()
            fill = QColor(fg)
            fill.setAlpha(110)
            p.fillPath(path, fill)
            pen = QPen(QColor(255, 200, 0), 2)
            p.setPen(pen)
            for t in self.thresholds:
                x = self.value_to_x(t)
                p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.setPen(fg)
        lo, hi = self._value_range()
        text_rect = QRectF(r.left(), r.bottom() + 2, r.width(), 16)
        if self.counts.size:
            p.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{lo:.4g}")
            p.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{hi:.4g}")
        p.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, self.caption)
        p.end()
