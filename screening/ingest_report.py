"""The validation report of an ingest: every invalid record, kept record with a warning, and the
failure that stopped a library, as a CSV; and the reasons grouped as people read them.

Rows are `record, line, kind, reason, excerpt`, where kind is `invalid` (the record was left out),
`warning` (the record was kept; e.g. InChI cannot represent it, so it has no InChIKey) or
`failure` (the library failed; the row says why, and the invalid records read before it stay).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

COLUMNS = ["record", "line", "kind", "reason", "excerpt"]
INVALID, WARNING, FAILURE = "invalid", "warning", "failure"
EXCERPT_CHARS = 200
GROUP_CHARS = 160
MAX_GROUPS = 100  # reason groups kept in the database; the rest are counted together
OTHER_GROUP = "other reasons (see the downloadable report)"

# What differs per record is dropped, what a chemist reads a reason by is kept (the element and its
# valence, the kind of parse error). Applied in order to each clause of a reason.
_REWRITES: list[tuple[re.Pattern[str], str]] = [
    # "Explicit valence for atom # 3 Al, 6, is greater than permitted" (and the wording without the valence)
    (
        re.compile(
            r"Explicit valence for atom\s*#?\s*\d+\s+([A-Z][a-z]?|\*)\s*,\s*(\d+)\s*,\s*"
            r"is greater than permitted"
        ),
        r"Explicit valence for atom \1 (valence \2) is greater than permitted",
    ),
    (
        re.compile(r"Explicit valence for atom\s*#?\s*\d+\s+([A-Z][a-z]?|\*),?\s+(?:is\s+)?greater than permitted"),
        r"Explicit valence for atom \1 is greater than permitted",
    ),
    (re.compile(r"Can't kekulize mol\.?\s*Unkekulized atoms:[\d\s]*"), "Can't kekulize mol"),
    (re.compile(r"\bnon-ring atom \d+ marked aromatic"), "non-ring atom marked aromatic"),
    (re.compile(r"^SMILES Parse Error:\s*"), ""),
    # The offending text: "syntax error while parsing: C1CC(", "unclosed ring for input: 'C1CC'".
    (re.compile(r"\s+(?:while parsing|for input)\b.*$"), ""),
    (re.compile(r"^check for mistakes\b.*$"), ""),
    (re.compile(r"^Failed parsing SMILES\b.*$"), ""),
    (
        re.compile(r"^the counts line declares \d+ atoms and \d+ bonds, but the block has only \d+ lines"),
        "the counts line declares more atoms and bonds than the block has lines",
    ),
    (re.compile(r"^row has \d+ fields$"), "row has the wrong number of fields"),
    (re.compile(r"^line \d+ is not valid UTF-8"), "not valid UTF-8"),
    (re.compile(r"^negative skip value -?\d+"), "negative skip value"),
    # Generic: atom numbers, positions and line numbers, and a quoted excerpt at the end.
    (re.compile(r"\s*\(?\b(?:on|at) line \d+\)?"), ""),
    (re.compile(r"\b(atoms?)\s*(?:#\s*)?\d+(?:\s*,?\s*\d+)*"), r"\1"),
    (re.compile(r"\s*\(?\bat position \d+\)?"), ""),
    (re.compile(r":\s*(?:'[^']*'?|\"[^\"]*\"?)\s*$"), ""),
]


def reason_group(reason: str) -> str:
    """The group a record's reason is counted under in the report's summary.

    RDKit's reasons ("invalid SMILES: …", "invalid molfile: …") are grouped by their first error, the
    one the others follow from; other reasons keep every clause.
    """
    head, _, rest = reason.partition(": ")
    prefix, first_only = "", False
    if head in ("invalid SMILES", "invalid molfile") and rest:
        prefix, reason, first_only = f"{head}: ", rest, True
    parts = reason.split("; ")
    if len(parts) > 1 and parts[-1].endswith("…"):
        parts.pop()  # cut short where the reason was clipped
    clauses: list[str] = []
    for clause in parts:
        text = clause.strip().rstrip(".:…")
        for pattern, replacement in _REWRITES:
            text = pattern.sub(replacement, text).strip()
        if text and text not in clauses:
            clauses.append(text)
    if first_only:
        clauses = clauses[:1]
    grouped = prefix + "; ".join(clauses) if clauses else reason.strip()
    return grouped[:GROUP_CHARS].rstrip() or "unknown reason"


class ReportWriter:
    """Writes the report's CSV to a local file and counts each kind by reason group."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        self._csv.writerow(COLUMNS)
        self.invalid: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()

    def invalid_record(self, number: int, line: int, reason: str, excerpt: str) -> None:
        self.invalid[reason_group(reason)] += 1
        self._csv.writerow([number, line, INVALID, reason, (excerpt or "")[:EXCERPT_CHARS]])

    def warning(self, number: int, line: int, reason: str, excerpt: str) -> None:
        self.warnings[reason_group(reason)] += 1
        self._csv.writerow([number, line, WARNING, reason, (excerpt or "")[:EXCERPT_CHARS]])

    def failure(self, reason: str) -> None:
        self._csv.writerow(["", "", FAILURE, reason, ""])

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def summary(groups: Counter[str]) -> dict[str, int]:
    """Reason groups by count, most frequent first; beyond `MAX_GROUPS` the rest are one group."""
    ranked = groups.most_common()
    kept = dict(ranked[:MAX_GROUPS])
    rest = sum(count for _, count in ranked[MAX_GROUPS:])
    if rest:
        kept[OTHER_GROUP] = kept.get(OTHER_GROUP, 0) + rest
    return kept
