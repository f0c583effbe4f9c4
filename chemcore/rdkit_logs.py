"""Keep RDKit's C++ logging off stderr during batch work, and turn its errors into messages.

RDKit reports why a SMILES fails only through its error log. `rdBase.BlockLogs` silences the logs
for a batch; `rdBase.CaptureErrorLog` (nested inside it) still collects the error text for one
molecule, which `clean_messages` turns into a one-line reason.

A molblock is different: `Chem.MolFromMolBlock` sends a parse error ("M  END missing around line 14")
to RDKit's warning log, which cannot be captured, and only sanitisation errors to the error log.
`molblock_reason` asks RDKit's SD reader, which logs parse errors as errors, why it refuses a block.
"""

from __future__ import annotations

import re

from rdkit import Chem, rdBase

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s?")
# What explains nothing in RDKit's log: the banners, source locations and stack frames of an invariant
# report, and the SD reader's "moving on" notes.
_NOISE = re.compile(
    r"^(\*+|-+|Stacktrace:|\d+# .*|Violation occurred on line .*|(Pre-condition|Post-condition|Invariant) Violation"
    r"|moving to the beginning of the next molecule|Could not sanitize molecule ending on line \d+)$"
)
_FAILED_EXPRESSION = "Failed Expression: "
MAX_REASON_CHARS = 300


def quiet() -> rdBase.BlockLogs:
    """Context manager: no RDKit log output (errors, warnings, info) while it is active."""
    return rdBase.BlockLogs()


def capture_errors() -> rdBase.CaptureErrorLog:
    """Context manager collecting RDKit error-log text in `.messages` (works inside `quiet()`)."""
    return rdBase.CaptureErrorLog()


def clean_messages(raw: str, subject: str = "") -> str:
    """One readable line from RDKit's multi-line log text (timestamps, echoes, carets and stack traces dropped)."""
    parts: list[str] = []
    range_error = False  # an invariant report of a value out of range: its expression says which
    for line in raw.splitlines():
        line = _TIMESTAMP.sub("", line).strip()
        line = line.removeprefix("ERROR: ").strip()
        if line == "Range Error":
            range_error = True
            continue
        if line.startswith(_FAILED_EXPRESSION):
            if range_error and parts:
                parts[-1] = f"{parts[-1]} out of range ({line.removeprefix(_FAILED_EXPRESSION)})"
            range_error = False
            continue
        if not line or set(line) <= {"~", "^", " "} or _NOISE.match(line):
            continue
        if subject and line in subject:
            continue
        if line.startswith("SMILES Parse Error: Failed parsing SMILES") and parts:
            continue
        line = line.rstrip(":")
        if line not in parts:
            parts.append(line)
    text = "; ".join(parts)
    if len(text) > MAX_REASON_CHARS:
        text = text[:MAX_REASON_CHARS] + "…"
    return text


def molblock_reason(molblock: str, *, sanitize: bool = True, remove_hs: bool = True) -> str:
    """Why RDKit refuses `molblock`, in its own words (line numbers count from the block's first line).

    Call it only for a block `Chem.MolFromMolBlock` refused: it parses the block again, through an
    `SDMolSupplier`, whose parse errors reach the error log. Returns "" if RDKit gives no reason.
    """
    supplier = Chem.SDMolSupplier()
    with quiet(), capture_errors() as log:
        supplier.SetData(molblock, sanitize=sanitize, removeHs=remove_hs)
        if len(supplier):
            supplier[0]
    return clean_messages(log.messages)
