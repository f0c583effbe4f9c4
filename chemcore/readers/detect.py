"""Guess a library's format and columns from its first bytes and its name.

The extension and the content must agree: when the name's extension names one format and the content
clearly shows another (molfile markers mean SDF; every line splitting into the same number (≥ 2) of
comma-separated fields means CSV; SMILES and names with no delimiter mean a SMILES file),
`resolve_format` refuses to guess and the caller must choose. Otherwise clear content decides, then
the extension, then the content's best guess. Columns are found
by header name first, then by content: the column whose values parse as SMILES, and (without a
header) a column of unique identifiers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence

from .model import LibraryFormatError

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
# Compound id columns as databases and vendors name them, most specific first. Compared by
# `name_key` (case, spaces, underscores and punctuation ignored), so "ChEMBL ID" is "chembl_id".
ID_COLUMN_NAMES = (
    # Databases: ChEMBL, PubChem, ZINC, DrugBank.
    "molecule_chembl_id",
    "chembl_id",
    "chembl",
    "molregno",
    "pubchem_compound_cid",
    "pubchem_cid",
    "cid",
    "zinc_id",
    "zinc",
    "drugbank_id",
    # Vendors: Enamine (Catalog ID, idnumber in REAL files), ChemDiv/Specs (IDNUMBER), MolPort, Mcule...
    "catalog_id",
    "catalogue_id",
    "catalog_number",
    "catalog_no",
    "cat_no",
    "idnumber",
    "id_number",
    "molport_id",
    "mcule_id",
    "vendor_id",
    "supplier_id",
    "product_id",
    # In-house and generic ids.
    "compound_id",
    "cmpd_id",
    "cpd_id",
    "mol_id",
    "molecule_id",
    "ligand_id",
    "substance_id",
    "sample_id",
    "corporate_id",
    "corp_id",
    "registry_number",
    "reg_no",
    "regno",
    "id",
    "identifier",
    # CAS registry numbers.
    "cas",
    "cas_number",
    "cas_no",
    "cas_rn",
    "casrn",
    "cas_registry_number",
    # Names and titles last: often empty where an id is not.
    "name",
    "compound_name",
    "molecule_name",
    "mol_name",
    "molname",
    "ligand_name",
    "pref_name",
    "title",
    "compound",
)

_COUNTS_LINE = re.compile(r"^[ \d]{6}.*V[23]000\s*$")
_SMILES_CHARS = re.compile(r"^[A-Za-z0-9@+\-\[\]()=#$%/\\.:*~&!,;|{}$^<>?']+$")


def name_key(name: str) -> str:
    """What column names are compared by: letters and digits only, lower case ("Catalog ID" == "catalog_id")."""
    return re.sub(r"[^0-9a-z]+", "", name.strip().lstrip("#").lower())


_SMILES_KEYS = frozenset(name_key(n) for n in SMILES_COLUMN_NAMES)
_NO_FORMAT_EXTENSIONS = frozenset({"txt"})  # says "text", not which format
_FORMAT_LABELS = {"smiles": "SMILES", "csv": "CSV", "tsv": "TSV", "sdf": "SDF"}


def _extension(name: str | None) -> tuple[str, str]:
    """The format extension of a file name (`csv` for `lib.csv.gz`) and the suffix as written (`.csv.gz`)."""
    if not name:
        return "", ""
    base = re.split(r"[/\\]", name)[-1]
    stem = base
    for suffix in (".gz", ".gzip"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    if "." not in stem:
        return "", ""
    ext = stem.rsplit(".", 1)[-1]
    return ext.lower(), base[len(stem) - len(ext) - 1 :]


def format_from_name(name: str | None) -> str | None:
    """The format an extension suggests (`.smi`, `.csv.gz`, ...), or None."""
    return _FORMAT_ALIASES.get(_extension(name)[0])


def named_format(name: str | None) -> str | None:
    """The format the extension names outright (`.txt` suggests SMILES but names no format)."""
    ext = _extension(name)[0]
    return None if ext in _NO_FORMAT_EXTENSIONS else _FORMAT_ALIASES.get(ext)


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
    return any(name_key(f) in _SMILES_KEYS for f in fields)


def _consistent(lines: Sequence[str], delimiter: str) -> bool:
    counts = {len(split_fields(line, delimiter)) for line in lines}
    return len(counts) == 1 and counts.pop() >= 2


def content_format(head: bytes) -> str | None:
    """The format the content clearly shows (molfile markers; consistent delimited rows), or None."""
    lines = head_lines(head)
    if looks_like_sdf(lines):
        return "sdf"
    rows = data_lines(lines)[:100]
    if not rows:
        return None
    first = rows[0].lstrip("#")
    if _consistent(rows, ","):
        return "csv"
    if _consistent(rows, ";") and has_smiles_header(split_fields(first, ";")):
        return "csv"
    if _consistent(rows, "\t") and has_smiles_header(split_fields(first, "\t")):
        return "tsv"
    # SMILES and names separated by spaces, no delimiter anywhere: no CSV/TSV reading of it works.
    # (One token per line is as good a one-column CSV as a SMILES file: no signal.)
    undelimited = not any(c in row for row in rows for c in ",;\t")
    if undelimited and 2 * sum(len(row.split()) > 1 for row in rows) > len(rows) and _smiles_first(rows) >= 0.6:
        return "smiles"
    return None


def _smiles_first(rows: Sequence[str]) -> float:
    """Fraction of rows whose first field parses as SMILES."""
    return smiles_like([split_fields(row, None)[0] for row in rows[:50] if row.strip()])


def _agree(named: str, content: str) -> bool:
    """Whether an extension's format can hold what the content shows."""
    if named == content:
        return True
    if named in ("csv", "tsv"):
        return content in ("csv", "tsv")  # the delimiter is sniffed: `.csv` with tabs or `;` is fine
    if named == "smiles":
        return content == "tsv"  # SMILES files split on tabs
    return False


def resolve_format(head: bytes, name: str | None) -> str:
    """The format of a file from its (decompressed) head and its name.

    Raises `LibraryFormatError` when the name's extension names one format and the content clearly
    another (e.g. a `.csv` file with SDF markers): the caller must then choose with `format=`. A name
    whose extension names no format (`.txt`, none) leaves the decision to the content.
    """
    named = named_format(name)
    if named is not None:
        content = content_format(head)
        if named == "sdf" and content is None and _smiles_first(data_lines(head_lines(head))[:100]) >= 0.6:
            content = "smiles"  # one SMILES per line: no molfile in it
        if content is not None and not _agree(named, content):
            raise LibraryFormatError(
                f"the file is named {_extension(name)[1]} but its content looks like {_FORMAT_LABELS[content]}; "
                "choose the format"
            )
    return sniff_format(head, name)


def sniff_format(head: bytes, name_hint: str | None) -> str:
    """The content's best guess at smiles / csv / tsv / sdf, with the file name as a tie-breaker.

    No agreement check: `resolve_format` (used by `open_library`) refuses a name and content that disagree.
    """
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
        return "smiles" if name_key(fields[0]) in _SMILES_KEYS and hint == "smiles" else "tsv"
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
    keys = [name_key(n) for n in names]
    if wanted is not None:
        if wanted in names:
            return names.index(wanted)
        key = name_key(wanted)
        return keys.index(key) if key and key in keys else None
    for name in known:
        key = name_key(name)
        if key in keys:
            return keys.index(key)
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


# An identifier: one token with a letter (CHEMBL25, ZINC000000000053, EN300-18065, K284-0050), or a
# CAS registry number (50-78-2). Plain numbers are left alone: row numbers and measurements look alike.
_ID_VALUE = re.compile(r"^(?=[^\s]*[A-Za-z])[A-Za-z0-9][^\s,;\t\"']{0,63}$|^\d{2,7}-\d\d-\d$")


def detect_id_column(rows: Sequence[Sequence[str]], skip: int | None = None) -> int | None:
    """In a header-less file, the first column whose sampled values are all distinct identifiers, or None."""
    sample = [r for r in rows[:50] if r]
    if len(sample) < 2:
        return None
    width = max(len(r) for r in sample)
    for j in range(width):
        if j == skip:
            continue
        values = [r[j] if j < len(r) else "" for r in sample]
        if not all(_ID_VALUE.match(v) for v in values) or len(set(values)) < len(values):
            continue
        if any(is_number(v) for v in values) or smiles_like(values) >= 0.5:
            continue
        return j
    return None
