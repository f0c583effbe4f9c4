"""How campaign data reads on a page: error details as sentences, filter breakdowns most frequent
first, score histograms as SVG with labelled axes."""

from __future__ import annotations

FIELD_LABELS = {"score_model": "Score of", "file_format": "File format", "set": "Set", "status": "Status"}
X_TICKS = (0, 0.25, 0.5, 0.75, 1)  # fractions of the score range
Y_TICKS = (0, 0.5, 1)  # fractions of the tallest bar


def readable(detail) -> str:
    """An error detail (a dict of field → messages, a list, a message) as a sentence people read:
    {"min_score": ["'abc' is not a number."]} → "Min score: 'abc' is not a number." """
    if isinstance(detail, dict):
        return " ".join(f"{_field_label(field)}: {readable(messages)}" for field, messages in detail.items())
    if isinstance(detail, list | tuple):
        return " ".join(readable(message) for message in detail)
    return str(detail)


def _field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def reason_tables(filter_reasons: dict) -> list[dict]:
    """Filtered and failed compounds by reason, most frequent first."""
    tables = []
    for kind, title in (("filtered", "Filtered out"), ("failed", "Could not be scored")):
        reasons = sorted((filter_reasons or {}).get(kind, {}).items(), key=lambda item: (-item[1], item[0]))
        if reasons:
            tables.append({"kind": kind, "title": title, "reasons": reasons, "total": sum(n for _, n in reasons)})
    return tables


def histogram_figure(histogram: dict | None) -> dict | None:
    """An SVG histogram with labelled axes (score across, compounds up), drawn server-side: no
    charting library is needed for a summary."""
    if not histogram or not histogram.get("counts"):
        return None
    counts, edges = histogram["counts"], histogram["edges"]
    left, top, plot_width, plot_height = 52, 8, 300, 100
    peak = max(counts) or 1
    step = plot_width / len(counts)
    bars = [
        {
            "x": round(left + i * step, 2),
            "width": round(max(step - 1, 1), 2),
            "height": round(plot_height * count / peak, 2),
            "y": round(top + plot_height - plot_height * count / peak, 2),
            "title": f"{edges[i]:.3g} to {edges[i + 1]:.3g}: {count:,}",
        }
        for i, count in enumerate(counts)
    ]
    low, high = edges[0], edges[-1]
    x_ticks = [{"x": round(left + plot_width * f, 2), "label": f"{low + (high - low) * f:.3g}"} for f in X_TICKS]
    y_ticks = [{"y": round(top + plot_height * (1 - f), 2), "label": f"{round(peak * f):,}"} for f in Y_TICKS]
    return {
        "width": left + plot_width + 12,
        "height": top + plot_height + 42,
        "left": left,
        "top": top,
        "right": left + plot_width,
        "bottom": top + plot_height,
        "middle_x": left + plot_width / 2,
        "middle_y": top + plot_height / 2,
        "bars": bars,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
    }
