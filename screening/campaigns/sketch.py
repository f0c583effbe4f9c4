"""A mergeable summary of many scores: exact count, mean, min and max, and quantiles and histograms
within a relative error (log-spaced buckets, as in DDSketch).

Each shard job builds one per model; the finalising step merges them, so percentiles of a billion
scores never need the scores in one place. Serialises to a small JSON object.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

RELATIVE_ACCURACY = 0.005
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
# Values closer to zero than this share one bucket.
_MIN_MAGNITUDE = 1e-9


class Sketch:
    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.total_squares = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.zeros = 0
        self.positive: Counter[int] = Counter()
        self.negative: Counter[int] = Counter()

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return
        self.count += int(values.size)
        self.total += float(values.sum())
        self.total_squares += float(np.square(values).sum())
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        magnitude = np.abs(values)
        small = magnitude < _MIN_MAGNITUDE
        self.zeros += int(small.sum())
        keys = np.ceil(np.log(np.where(small, 1.0, magnitude)) / _LOG_GAMMA).astype(np.int64)
        for sign_mask, counter in ((values > 0) & ~small, self.positive), ((values < 0) & ~small, self.negative):
            unique, counts = np.unique(keys[sign_mask], return_counts=True)
            counter.update(dict(zip(unique.tolist(), counts.tolist(), strict=True)))

    def merge(self, other: Sketch) -> None:
        self.count += other.count
        self.total += other.total
        self.total_squares += other.total_squares
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.zeros += other.zeros
        self.positive.update(other.positive)
        self.negative.update(other.negative)

    @staticmethod
    def _value(key: int) -> float:
        # The bucket (gamma^(key-1), gamma^key] is represented by the point of least relative error.
        return 2 * _GAMMA**key / (_GAMMA + 1)

    def _buckets(self) -> list[tuple[float, int]]:
        """(representative value, count) in increasing order of value."""
        out = [(-self._value(k), c) for k, c in sorted(self.negative.items(), reverse=True)]
        if self.zeros:
            out.append((0.0, self.zeros))
        out += [(self._value(k), c) for k, c in sorted(self.positive.items())]
        return out

    def quantile(self, q: float) -> float | None:
        if not self.count:
            return None
        rank = q * (self.count - 1)
        seen = 0
        for value, count in self._buckets():
            seen += count
            if seen > rank:
                return min(max(value, self.min), self.max)
        return self.max

    def histogram(self, bins: int = 40) -> dict[str, list[float]]:
        """Equal-width bins between min and max, filled from the buckets (each bucket's count goes to
        the bin holding its representative value)."""
        if not self.count:
            return {"edges": [], "counts": []}
        low, high = self.min, self.max
        if high <= low:
            return {"edges": [low, low], "counts": [self.count]}
        edges = np.linspace(low, high, bins + 1)
        counts = np.zeros(bins, dtype=np.int64)
        for value, count in self._buckets():
            index = int(np.clip(np.searchsorted(edges, value, side="right") - 1, 0, bins - 1))
            counts[index] += count
        return {"edges": [round(float(e), 6) for e in edges], "counts": counts.tolist()}

    def summary(self) -> dict[str, Any]:
        if not self.count:
            return {"count": 0}
        mean = self.total / self.count
        variance = max(0.0, self.total_squares / self.count - mean * mean)
        out: dict[str, Any] = {"count": self.count, "mean": mean, "std": math.sqrt(variance)}
        out["min"], out["max"] = self.min, self.max
        for q in (5, 25, 50, 75, 95):
            out[f"p{q}"] = self.quantile(q / 100)
        out["histogram"] = self.histogram()
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "sum": self.total,
            "sumsq": self.total_squares,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
            "zeros": self.zeros,
            "pos": {str(k): v for k, v in self.positive.items()},
            "neg": {str(k): v for k, v in self.negative.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sketch:
        sketch = cls()
        sketch.count = int(data.get("count", 0))
        sketch.total = float(data.get("sum", 0.0))
        sketch.total_squares = float(data.get("sumsq", 0.0))
        if sketch.count:
            sketch.min, sketch.max = float(data["min"]), float(data["max"])
        sketch.zeros = int(data.get("zeros", 0))
        sketch.positive = Counter({int(k): int(v) for k, v in data.get("pos", {}).items()})
        sketch.negative = Counter({int(k): int(v) for k, v in data.get("neg", {}).items()})
        return sketch
