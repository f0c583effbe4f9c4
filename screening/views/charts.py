"""Histograms drawn as plain SVG on the server: bars, labelled axes with round ticks, a tooltip per bar.

The template (`screening/_histogram.html`) only places what `histogram_chart` computes, so pages
need no charting script and every label is escaped like any other text.
"""

from __future__ import annotations

import math
from typing import Any

from ..distributions import nice_width

WIDTH, HEIGHT = 380, 230
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 46
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_X_LABELS = 7


def number(value: float) -> str:
    """A short label: 1,250 · 312.5 · 0.042 · -1.5."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def histogram_chart(distribution: dict[str, Any]) -> dict[str, Any] | None:
    """The SVG geometry of one distribution's histogram (None when it has no values)."""
    histogram = distribution.get("histogram")
    if not histogram or not histogram["counts"]:
        return None
    edges, counts = histogram["edges"], histogram["counts"]
    low, high = edges[0], edges[-1]
    unit = distribution.get("unit") or ""
    peak = max(counts) or 1
    y_step = nice_width(peak / 4, integer=True)
    y_top = math.ceil(peak / y_step) * y_step

    def x(value: float) -> float:
        return round(LEFT + (value - low) / (high - low) * PLOT_WIDTH, 2)

    def y(count: float) -> float:
        return round(TOP + PLOT_HEIGHT - count / y_top * PLOT_HEIGHT, 2)

    integer = histogram["exact"]
    bars = []
    for i, count in enumerate(counts):
        left, right = x(edges[i]), x(edges[i + 1])
        bars.append(
            {
                "x": left,
                "width": round(max(right - left - 1, 0.5), 2),
                "y": y(count),
                "height": round(TOP + PLOT_HEIGHT - y(count), 2),
                "count": count,
                "title": f"{_bin_label(edges[i], edges[i + 1], integer)}{' ' + unit if unit else ''}: "
                f"{count:,} compound{'s' if count != 1 else ''}",
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "plot": {"left": LEFT, "right": LEFT + PLOT_WIDTH, "top": TOP, "bottom": TOP + PLOT_HEIGHT},
        "bars": bars,
        "x_ticks": _x_ticks(edges, integer, x),
        "y_ticks": [{"y": y(c), "label": number(c)} for c in range(0, int(y_top) + 1, int(y_step))],
        "x_title": f"{distribution['label']} ({unit})" if unit else distribution["label"],
        "y_title": "Compounds",
        "x_title_at": {"x": LEFT + PLOT_WIDTH / 2, "y": HEIGHT - 6},
        "y_title_at": {"x": 14, "y": TOP + PLOT_HEIGHT / 2},
    }


def _bin_label(start: float, end: float, integer: bool) -> str:
    if integer:
        last = int(end) - 1
        return number(start) if last == int(start) else f"{number(start)} to {number(last)}"
    return f"{number(start)} to {number(end)}"


def _x_ticks(edges: list[float], integer: bool, x) -> list[dict[str, Any]]:
    low, high = edges[0], edges[-1]
    if integer:
        # Integers label their bins, at the bin's middle, every few bins.
        every = max(1, math.ceil((len(edges) - 1) / MAX_X_LABELS))
        return [
            {"x": round((x(edges[i]) + x(edges[i + 1])) / 2, 2), "label": number(edges[i])}
            for i in range(0, len(edges) - 1, every)
        ]
    step = nice_width((high - low) / (MAX_X_LABELS - 1))
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append({"x": x(value), "label": number(round(value, 10))})
        value += step
    return ticks
