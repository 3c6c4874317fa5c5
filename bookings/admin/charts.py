"""The Reports page's charts as server-drawn SVG (docs/architecture.md#utilization-reports): the geometry is
computed here and the template writes the elements. No script and no inline style, so the charts show under
the admin's Content-Security-Policy and without JavaScript; colors come from classes in admin_reports.css;
each bar carries a <title> (the browser's tooltip, read by screen readers) and a table below the chart holds
the same numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36  # room for the axis labels


def _n(value: float) -> str:
    """A coordinate as SVG reads it: a dot for the decimals, whatever the page's language."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    css: str
    title: str


@dataclass
class Chart:
    title: str
    description: str
    bars: list[Bar] = field(default_factory=list)
    grid: list[tuple[str, str]] = field(default_factory=list)  # (y, label) of the horizontal lines
    x_labels: list[tuple[str, str]] = field(default_factory=list)  # (x of the label's middle, label)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, label)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    axis_label_x: int = LEFT - 6
    x_label_y: int = HEIGHT - BOTTOM + 18


def _nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at least `value` (the y axis' top)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _slots(count: int) -> tuple[float, float]:
    """The width of one period's slot and of its bar."""
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    return slot, max(slot * 0.7, 1.0)


def _x_labels(labels: list[str]) -> list[tuple[str, str]]:
    """Every label that fits: each needs its text's width (about 6.5 px a character) and a gap."""
    slot, _bar = _slots(len(labels))
    needed = max((len(label) for label in labels), default=0) * 6.5 + 10
    every = max(math.ceil(needed / slot), 1)
    return [(_n(LEFT + slot * (i + 0.5)), label) for i, label in enumerate(labels) if i % every == 0]


def _bar(x: float, y: float, width: float, height: float, css: str, title: str) -> Bar:
    return Bar(_n(x), _n(y), _n(width), _n(height), css, title)


def _y(value: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)


def occupancy_chart(series: list[dict[str, Any]], labels: list[str]) -> Chart:
    """One bar per period: its occupancy, with 100% always on the axis."""
    chart = Chart(_("Occupancy"), _("Booked minutes over bookable minutes, per period."))
    values = [s["occupancy"] or 0.0 for s in series]
    top = max(1.0, _nice_top(max(values, default=0.0)))
    chart.grid = [(_n(_y(top * f, top)), f"{round(top * f * 100)}%") for f in (0, 0.25, 0.5, 0.75, 1)]
    slot, width = _slots(len(series))
    for i, (entry, value, label) in enumerate(zip(series, values, labels, strict=True)):
        shown = percent(entry["occupancy"])
        title = _("%(period)s: %(occupancy)s (%(booked)s of %(bookable)s hours)") % {
            "period": label,
            "occupancy": shown,
            "booked": hours(entry["booked"]),
            "bookable": hours(entry["bookable"]),
        }
        y = _y(value, top)
        x = LEFT + slot * i + (slot - width) / 2
        chart.bars.append(_bar(x, y, width, HEIGHT - BOTTOM - y, "bar-occupancy", title))
    chart.x_labels = _x_labels(labels)
    return chart


def bookings_chart(series: list[dict[str, Any]], labels: list[str], statuses: dict[str, str]) -> Chart:
    """Stacked bars per period: the bookings by status (`statuses`: name -> label, bottom first)."""
    chart = Chart(_("Bookings"), _("Bookings asking for a time in each period, by status."))
    totals = [sum(s["bookings"].values()) for s in series]
    # Whole numbers on the axis: at most four steps of 1, 2 or 5 × 10^n bookings.
    step = max(int(_nice_top(max(totals, default=0) / 4)), 1)
    top = step * max(math.ceil(max(totals, default=0) / step), 1)
    chart.grid = [(_n(_y(count, top)), str(count)) for count in range(0, top + 1, step)]
    chart.legend = [(f"bar-{name}", label) for name, label in statuses.items()]
    slot, width = _slots(len(series))
    for i, (entry, label) in enumerate(zip(series, labels, strict=True)):
        x, base = LEFT + slot * i + (slot - width) / 2, 0
        for name, status_label in statuses.items():
            count = entry["bookings"][name]
            if not count:
                continue
            y_top = _y(base + count, top)
            title = _("%(period)s: %(count)s %(status)s") % {
                "period": label,
                "count": count,
                "status": status_label.lower(),
            }
            chart.bars.append(_bar(x, y_top, width, _y(base, top) - y_top, f"bar-{name}", title))
            base += count
    chart.x_labels = _x_labels(labels)
    return chart


def percent(value: float | None) -> str:
    """One decimal below 10%, where a whole percent would read 0% for a little use."""
    if value is None:
        return "–"
    return f"{value:.1%}" if value < 0.1 else f"{value:.0%}"


def hours(minutes: int) -> str:
    return f"{minutes / 60:.1f}".removesuffix(".0")
