"""Keep RDKit's C++ logging off stderr during batch work, and turn its errors into messages.

RDKit reports why a SMILES fails only through its error log. `rdBase.BlockLogs` silences the logs
for a batch; `rdBase.CaptureErrorLog` (nested inside it) still collects the error text for one
molecule, which `clean_messages` turns into a one-line reason.
"""

from __future__ import annotations

import re

from rdkit import rdBase

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s?")
MAX_REASON_CHARS = 300


def quiet() -> rdBase.BlockLogs:
    """Context manager: no RDKit log output (errors, warnings, info) while it is active."""
    return rdBase.BlockLogs()


def capture_errors() -> rdBase.CaptureErrorLog:
    """Context manager collecting RDKit error-log text in `.messages` (works inside `quiet()`)."""
    return rdBase.CaptureErrorLog()


def clean_messages(raw: str, subject: str = "") -> str:
    """One readable line from RDKit's multi-line log text (timestamps, echoes and carets dropped)."""
    parts: list[str] = []
    for line in raw.splitlines():
        line = _TIMESTAMP.sub("", line).strip()
        if not line or set(line) <= {"~", "^", " "}:
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
