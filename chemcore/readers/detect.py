"""Guess a library's format and columns from its first bytes; the file name is only a hint.

Content wins when it is unambiguous (molfile markers mean SDF; every line splitting into the same
number (≥ 2) of comma-separated fields means CSV); otherwise the extension decides; otherwise the
content's best guess. Columns are found by header name first, then by which column's values parse as
SMILES.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence

FORMATS = ("smiles", "csv", "tsv", "sdf")
_FORMAT_ALIASES = {
    "smi": "smiles",
    "smiles": "smiles",
    "txt": "smiles",
    "ism": "smiles",
    "can": "smiles",
    "csv": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "sdf": "sdf",
    "sd": "sdf",
    "mol": "sdf",
    "mdl": "sdf",
}

SMILES_COLUMN_NAMES = (
    "smiles",
    "canonical_smiles",
    "isomeric_smiles",
    "smiles_string",
    "structure_smiles",
    "mol_smiles",
    "molecule_smiles",
    "input_smiles",
    "std_smiles",
    "standardized_smiles",
    "standardised_smiles",
    "parent_smiles",
    "cxsmiles",
    "smi",
    "structure",
)
ID_COLUMN_NAMES = (
    "id",
    "name",
    "compound_id",
    "molecule_chembl_id",
    "chembl_id",
    "mol_id",
    "molecule_id",
    "cmpd_id",
    "compound_name",
    "molecule_name",
    "mol_name",
    "molname",
    "title",
    "identifier",
    "zinc_id",
    "idnumber",
    "catalog_id",
    "compound",
    "ligand_id",
)

_COUNTS_LINE = re.compile(r"^[ \d]{6}.*V[23]000\s*$")
_SMILES_CHARS = re.compile(r"^[A-Za-z0-9@+\-\[\]()=#$%/\\.:*~&!,;|{}$^<>?']+$")


def normalise_name(name: str) -> str:
    """Column names compare case-, space- and punctuation-insensitively."""
    return re.sub(r"[\s\-.]+", "_", name.strip().lstrip("#").strip()).lower()


def format_from_name(name: str | None) -> str | None:
    """The format an extension suggests (`.smi`, `.csv.gz`, ...), or None."""
    if not name:
        return None
    lower = name.lower()
    for suffix in (".gz", ".gzip"):
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
    ext = lower.rsplit(".", 1)[-1] if "." in lower else ""
    return _FORMAT_ALIASES.get(ext)


def canonical_format(fmt: str) -> str:
    """Validate a caller-given format name."""
    try:
        return _FORMAT_ALIASES[fmt.lower().lstrip(".")]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None


def head_lines(head: bytes, complete_only: bool = True, limit: int = 200) -> list[str]:
    """The first lines of the sniffed head, decoded leniently (the last partial line dropped)."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    lines = text.splitlines()
    if complete_only and lines and not text.endswith(("\n", "\r")):
        lines = lines[:-1] or lines  # keep a one-line file's only line
    return lines[:limit]


def looks_like_sdf(lines: Sequence[str]) -> bool:
    for i, line in enumerate(lines):
        if line.startswith(("M  END", "$$$$", "M  V30 BEGIN CTAB")):
            return True
        if i == 3 and _COUNTS_LINE.match(line):
            return True
    return False


def data_lines(lines: Sequence[str]) -> list[str]:
    """Non-blank lines that are not comments (a commented header such as `#smiles,id` is kept)."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("#") and out:
            continue
        if line.startswith("#") and not has_smiles_header(split_fields(line.lstrip("#"), guess_delimiter(line))):
            continue
        out.append(line)
    return out


def split_fields(line: str, delimiter: str | None) -> list[str]:
    """Split one line: csv rules for a delimiter, runs of whitespace for None (SMILES files)."""
    if delimiter is None:
        if "\t" in line:
            return [f.strip() for f in line.split("\t")]
        return line.split()
    if '"' not in line:
        return [f.strip() for f in line.split(delimiter)]
    try:
        return [f.strip() for f in next(csv.reader([line], delimiter=delimiter, strict=True))]
    except (csv.Error, StopIteration):
        return [f.strip() for f in line.split(delimiter)]


def guess_delimiter(line: str) -> str | None:
    for delimiter in (",", "\t", ";"):
        if delimiter in line:
            return delimiter
    return None


def has_smiles_header(fields: Sequence[str]) -> bool:
    return any(normalise_name(f) in SMILES_COLUMN_NAMES for f in fields)


def _consistent(lines: Sequence[str], delimiter: str) -> bool:
    counts = {len(split_fields(line, delimiter)) for line in lines}
    return len(counts) == 1 and counts.pop() >= 2


def sniff_format(head: bytes, name_hint: str | None) -> str:
    """Decide smiles / csv / tsv / sdf from content, with the file name as a tie-breaker."""
    lines = head_lines(head)
    if looks_like_sdf(lines):
        return "sdf"
    hint = format_from_name(name_hint)
    rows = data_lines(lines)[:100]
    if not rows:
        return hint if hint in ("smiles", "csv", "tsv") else "smiles"
    first = rows[0].lstrip("#")
    if _consistent(rows, ","):
        return "csv"
    if hint in ("csv", "tsv"):
        return hint
    if _consistent(rows, ";") and has_smiles_header(split_fields(first, ";")):
        return "csv"
    if _consistent(rows, "\t") and has_smiles_header(split_fields(first, "\t")):
        fields = split_fields(first, "\t")
        # A SMILES-first tab file with a header is also a SMILES file; either reads the same.
        return "smiles" if normalise_name(fields[0]) in SMILES_COLUMN_NAMES and hint == "smiles" else "tsv"
    if hint == "sdf":
        return "sdf"  # no molfile markers: the SDF reader will report every block as broken
    return "smiles"


def sniff_delimiter(head: bytes, fmt: str) -> str:
    if fmt == "tsv":
        return "\t"
    rows = data_lines(head_lines(head))[:100]
    for delimiter in (",", ";", "\t", "|"):
        if rows and _consistent(rows, delimiter):
            return delimiter
    return ","


def smiles_like(values: Sequence[str]) -> float:
    """Fraction of non-empty values that RDKit can parse as SMILES (without sanitising)."""
    values = [v for v in values if v]
    if not values:
        return 0.0
    candidates = [v for v in values if _SMILES_CHARS.match(v) and not is_number(v)]
    if not candidates:
        return 0.0
    try:
        from rdkit import Chem, rdBase
    except ImportError:  # pragma: no cover - rdkit is a core dependency
        return len(candidates) / len(values)
    ok = 0
    with rdBase.BlockLogs():
        for value in candidates:
            mol = Chem.MolFromSmiles(value, sanitize=False)
            if mol is not None and mol.GetNumAtoms() > 0:
                ok += 1
    return ok / len(values)


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def find_column(names: Sequence[str], wanted: str | int | None, known: Sequence[str]) -> int | None:
    """Index of the column `wanted` (name or 0-based index), else of the first known name."""
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        return wanted if 0 <= wanted < len(names) else None
    normalised = [normalise_name(n) for n in names]
    if wanted is not None:
        if wanted in names:
            return names.index(wanted)
        key = normalise_name(wanted)
        return normalised.index(key) if key in normalised else None
    for name in known:
        if name in normalised:
            return normalised.index(name)
    return None


def detect_smiles_column(rows: Sequence[Sequence[str]], skip: int | None = None) -> int | None:
    """The column whose sampled values most often parse as SMILES (≥ 60 %), or None."""
    if not rows:
        return None
    width = max(len(r) for r in rows)
    best, best_score = None, 0.6
    for j in range(width):
        if j == skip:
            continue
        score = smiles_like([r[j] for r in rows[:50] if j < len(r)])
        if score > best_score:
            best, best_score = j, score
    return best
