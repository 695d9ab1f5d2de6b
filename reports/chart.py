"""Geometry of the concurrent-viewers chart, drawn as inline SVG by the template (no JavaScript)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from reports.traffic import Series

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 28, 16, 48
X_TICKS = 6


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  # the first and last time labels keep inside the drawing: start / end


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    right: float
    bottom: float
    path: str
    area: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def _y_step(peak: int) -> int:
    """A round step giving at most ~5 horizontal grid lines."""
    raw = max(peak, 1) / 5
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        if magnitude * factor >= raw:
            return max(int(magnitude * factor), 1)
    return int(magnitude * 10)


def _time_label(at: dt.datetime, zone: ZoneInfo, with_date: bool) -> str:
    local = at.astimezone(zone)
    return local.strftime("%d.%m %H:%M") if with_date else local.strftime("%H:%M")


def build_chart(series: Series, timezone: str) -> Chart:
    """A step line of the series with labelled axes; times on the x axis in the event's time zone."""
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    step = _y_step(series.peak)
    top_value = max(step * math.ceil(max(series.peak, 1) / step), 1)
    n = len(series.values)

    def x(i: float) -> float:
        return round(LEFT + (right - LEFT) * i / n, 1)

    def y(v: float) -> float:
        return round(bottom - (bottom - TOP) * v / top_value, 1)

    points = []
    for i, value in enumerate(series.values):
        points += [f"{x(i)},{y(value)}", f"{x(i + 1)},{y(value)}"]
    path = "M" + " L".join(points)
    area = f"{path} L{x(n)},{bottom} L{x(0)},{bottom} Z"
    zone = ZoneInfo(timezone)
    span = series.end - series.start
    with_date = series.start.astimezone(zone).date() != series.end.astimezone(zone).date()
    anchors = {0: "start", X_TICKS: "end"}
    x_ticks = [
        Tick(
            x(n * k / X_TICKS),
            _time_label(series.start + span * k / X_TICKS, zone, with_date),
            anchors.get(k, "middle"),
        )
        for k in range(X_TICKS + 1)
    ]
    y_ticks = [Tick(y(v), str(v)) for v in range(0, top_value + 1, step)]
    return Chart(WIDTH, HEIGHT, LEFT, TOP, right, bottom, path, area, x_ticks, y_ticks)
