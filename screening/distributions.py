"""The distribution of one quantity over a library, built shard by shard and merged.

A `Distribution` keeps a mergeable sketch of the values (exact count, mean, min and max; quantiles
and bins within 0.5 % of a value, see `campaigns.sketch`) and, while every value is an integer and
there are few distinct ones (H-bond donors, heavy atoms, counts in a property column), the exact
count of each value. Memory stays bounded whatever the number of compounds. `summary()` gives the
statistics and a histogram with round bin edges; long tails are cut off at the 0.5th/99.5th
percentiles and counted as `below`/`above`, so `sum(counts) + below + above == count` always.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from .campaigns.sketch import Sketch

MAX_DISTINCT = 1000  # distinct integer values counted exactly
TARGET_BINS = 30
TAIL = 0.005  # the share cut from each end when the tails are long
LONG_TAIL = 1.5
LARGEST_EXACT = 2**53  # integers beyond this are not exact as floats


class _Sketch(Sketch):
    def counts_in_bins(self, edges: np.ndarray) -> tuple[np.ndarray, int, int]:
        """Counts per bin [edges[i], edges[i+1]) (the last bin closed), and those below and above."""
        counts = np.zeros(len(edges) - 1, dtype=np.int64)
        below = above = 0
        for value, count in self._buckets():
            value = min(max(value, self.min), self.max)
            if value < edges[0]:
                below += count
            elif value > edges[-1]:
                above += count
            else:
                index = min(int(np.searchsorted(edges, value, side="right")) - 1, len(counts) - 1)
                counts[index] += count
        return counts, below, above


class Distribution:
    def __init__(self) -> None:
        self.sketch = _Sketch()
        self.exact: Counter[int] | None = Counter()

    @property
    def count(self) -> int:
        return self.sketch.count

    def add(self, values: np.ndarray) -> None:
        """Add finite values (the caller leaves out what is not a number)."""
        values = np.asarray(values, dtype=np.float64)
        if not values.size:
            return
        self.sketch.add(values)
        if self.exact is None:
            return
        if not (np.all(values == np.round(values)) and np.all(np.abs(values) <= LARGEST_EXACT)):
            self.exact = None
            return
        unique, counts = np.unique(values.astype(np.int64), return_counts=True)
        self.exact.update(dict(zip(unique.tolist(), counts.tolist(), strict=True)))
        if len(self.exact) > MAX_DISTINCT:
            self.exact = None

    def merge(self, other: Distribution) -> None:
        self.sketch.merge(other.sketch)
        if self.exact is None or other.exact is None:
            self.exact = None
            return
        self.exact.update(other.exact)
        if len(self.exact) > MAX_DISTINCT:
            self.exact = None

    def to_dict(self) -> dict[str, Any]:
        exact = None if self.exact is None else {str(k): v for k, v in self.exact.items()}
        return {"sketch": self.sketch.to_dict(), "exact": exact}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Distribution:
        distribution = cls()
        distribution.sketch = _Sketch.from_dict(data["sketch"])
        exact = data.get("exact")
        distribution.exact = None if exact is None else Counter({int(k): int(v) for k, v in exact.items()})
        return distribution

    def quantile(self, q: float) -> float | None:
        if not self.count:
            return None
        if self.exact is None:
            return self.sketch.quantile(q)
        rank = q * (self.count - 1)
        seen = 0
        for value in sorted(self.exact):
            seen += self.exact[value]
            if seen > rank:
                return float(value)
        return float(max(self.exact))

    def summary(self) -> dict[str, Any]:
        """Count, mean, sd, min, max, percentiles (5, 25, 50, 75, 95) and a histogram."""
        if not self.count:
            return {"count": 0, "histogram": None}
        base = self.sketch.summary()
        out: dict[str, Any] = {key: base[key] for key in ("count", "mean", "std", "min", "max")}
        for q in (5, 25, 50, 75, 95):
            out[f"p{q}"] = self.quantile(q / 100)
        out["histogram"] = self.histogram()
        return out

    def histogram(self) -> dict[str, Any]:
        """Bins of a round width over the values (their 0.5 to 99.5 % range when the tails are long).

        `exact` says whether each value's bin is exact (integers counted one by one) or within the
        sketch's 0.5 % of a value; the total is exact either way.
        """
        low, high = self._shown_range()
        integer = self.exact is not None
        width = nice_width((high - low) / TARGET_BINS, integer=integer)
        start = math.floor(low / width) * width
        if integer:  # bins [a, b): the one holding `high` is the last
            bins = math.floor((high - start) / width) + 1
        else:  # the last bin is closed: it holds `high`
            bins = max(1, math.ceil((high - start) / width))
            if start + bins * width < high:
                bins += 1
        edges = start + width * np.arange(bins + 1)
        if integer:
            counts, below, above = self._exact_counts(edges)
        else:
            counts, below, above = self.sketch.counts_in_bins(edges)
        return {
            "edges": [_round(float(e), width) for e in edges],
            "counts": counts.tolist(),
            "below": int(below),
            "above": int(above),
            "exact": integer,
        }

    def _shown_range(self) -> tuple[float, float]:
        low, high = self.sketch.min, self.sketch.max
        if high > low:
            cut_low, cut_high = self.quantile(TAIL), self.quantile(1 - TAIL)
            # Normal-looking tails (the full range within 1.5 times the central one) are kept.
            if cut_low is not None and cut_high is not None and (high - low) > LONG_TAIL * (cut_high - cut_low):
                return cut_low, cut_high
        return low, high

    def _exact_counts(self, edges: np.ndarray) -> tuple[np.ndarray, int, int]:
        """Integer bins [edges[i], edges[i+1]); values beyond the last edge count as above."""
        counts = np.zeros(len(edges) - 1, dtype=np.int64)
        below = above = 0
        for value, count in (self.exact or {}).items():
            if value < edges[0]:
                below += count
            elif value >= edges[-1]:
                above += count
            else:
                counts[int(np.searchsorted(edges, value, side="right")) - 1] += count
        return counts, below, above


def nice_width(raw: float, *, integer: bool = False) -> float:
    """The smallest of 1, 2, 2.5 or 5 times 10^k at least `raw` (an integer ≥ 1 when `integer`)."""
    if integer and raw <= 1:
        return 1.0
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        width = step * magnitude
        if width >= raw * (1 - 1e-9) and not (integer and width != int(width)):
            return float(width)
    return float(10 * magnitude)


def _round(value: float, width: float) -> float:
    """An edge without float noise (0.30000000000000004 → 0.3), to the width's decimals."""
    decimals = max(0, -math.floor(math.log10(width)) + 2)
    return round(value, decimals)
