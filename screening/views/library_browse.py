"""The library page's browsing sections: a page of compounds (or of substructure matches) and the
property distributions, for a ready library."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from chemcore.depict import smiles_to_data_uri

from .. import browse, library_stats
from ..models import Library
from .charts import histogram_chart, number

PAGE_SIZE = 25


def browse_context(request: HttpRequest, library: Library) -> dict[str, Any]:
    if library.status != Library.Status.READY:
        return {}
    return {"browse": compounds_context(request, library), "stats": stats_context(library)}


def compounds_context(request: HttpRequest, library: Library) -> dict[str, Any]:
    substructure = (request.GET.get("substructure") or "").strip()
    context: dict[str, Any] = {"substructure": substructure, "rows": [], "error": "", "next_url": ""}
    try:
        after = browse.Cursor.parse(request.GET.get("after"))
        page = browse.compound_page(library, after=after, limit=PAGE_SIZE, substructure=substructure)
    except browse.BrowseError as exc:
        context["error"] = str(exc)
        return context
    context["rows"] = [
        {
            "compound": compound,
            "image": smiles_to_data_uri(compound.smiles, width=180, height=130),
            "descriptors": browse.descriptors_of(compound.smiles),
        }
        for compound in page.compounds
    ]
    context["continued"] = after is not None
    context["first_url"] = "?" + urlencode({"substructure": substructure} if substructure else {}) + "#compounds"
    if page.next is not None:
        query = {"substructure": substructure} if substructure else {}
        context["next_url"] = "?" + urlencode({**query, "after": str(page.next)}) + "#compounds"
    context["summary"] = _summary(library, after, page, substructure)
    return context


def _summary(library: Library, after: browse.Cursor | None, page: browse.CompoundPage, substructure: str) -> str:
    total = f"{library.compounds:,}"
    start = 1 if after is None else after.row + 2  # rows count from 0
    if not substructure:
        if not page.compounds:
            return "No compounds here." if library.compounds else "The library holds no compounds."
        return f"Compounds {start:,} to {page.compounds[-1].row + 1:,} of {total}."
    end = page.last_read.row + 1 if page.last_read else start - 1
    matches = len(page.compounds)
    searched = f"Searched compounds {start:,} to {end:,} of {total}" if page.scanned else "Nothing left to search"
    found = f"{matches} match{'es' if matches != 1 else ''} for {substructure}"
    if page.next is None:
        return f"{searched}: {found}; the search reached the end of the library."
    return f"{searched}: {found}. Search on for more."


def stats_context(library: Library) -> dict[str, Any]:
    stats = library_stats.library_stats(library)
    context: dict[str, Any] = {"status": stats["status"], "url": reverse("library-stats", args=[library.pk])}
    if stats["status"] == "computing":
        context["progress"] = f"{stats['shards_done']} of {stats['shards']} shard{'s' if stats['shards'] != 1 else ''}"
    elif stats["status"] == "failed":
        context["error"] = stats.get("error", "")
    elif stats["status"] == "ready":
        context["compounds"] = stats["compounds"]
        context["charts"] = [
            {"distribution": item, "chart": histogram_chart(item), "caption": _caption(item)}
            for item in stats["distributions"]
        ]
        context["text_columns"] = stats.get("text_columns", [])
        context["not_summarised"] = stats.get("columns_not_summarised", [])
    return context


def _caption(item: dict[str, Any]) -> str:
    parts = [f"{item['count']:,} compounds"]
    if item["count"]:
        parts.append(f"mean {number(item['mean'])}, median {number(item['p50'])}")
        parts.append(f"range {number(item['min'])} to {number(item['max'])}")
    histogram = item.get("histogram") or {}
    if histogram.get("below"):
        parts.append(f"{histogram['below']:,} below {number(histogram['edges'][0])} not drawn")
    if histogram.get("above"):
        parts.append(f"{histogram['above']:,} above {number(histogram['edges'][-1])} not drawn")
    if item.get("non_numeric"):
        parts.append(f"{item['non_numeric']:,} not numbers")
    if item.get("missing"):
        what = "could not be computed" if item["source"] == "descriptor" else "without a value"
        parts.append(f"{item['missing']:,} {what}")
    return " · ".join(parts)
