"""Per-molecule bounds checked before a molecule reaches the model: SMILES length, and heavy atoms as
the core counts them (`chemcore.size_limit.too_large`, the same bound and the same message as the
portal's predict API and campaigns, so a compound gets the same answer on every path)."""

from __future__ import annotations

from collections.abc import Sequence

from chemcore.size_limit import too_large


def molecule_errors(smiles: Sequence[str], *, max_heavy_atoms: int, max_length: int) -> list[str | None]:
    """The reason each SMILES is refused, or None. Unparsable SMILES pass: the predictor reports
    them with RDKit's own reason."""
    errors: list[str | None] = [None] * len(smiles)
    for i, text in enumerate(smiles):
        if len(text) > max_length:
            errors[i] = f"SMILES is {len(text):,} characters long; the limit is {max_length:,}"
        else:
            errors[i] = too_large(text, max_heavy_atoms)
    return errors
