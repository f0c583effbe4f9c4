"""Per-molecule bounds checked before a molecule reaches the model: SMILES length and heavy atoms.

`molecule_errors` is the one place that decides; when the core's `Predictor` takes its own
`max_heavy_atoms`, this becomes a call to it."""

from __future__ import annotations

from collections.abc import Sequence

from rdkit import Chem, rdBase


def molecule_errors(smiles: Sequence[str], *, max_heavy_atoms: int, max_length: int) -> list[str | None]:
    """The reason each SMILES is refused, or None. Unparsable SMILES pass: the predictor reports
    them with RDKit's own reason."""
    errors: list[str | None] = [None] * len(smiles)
    with rdBase.BlockLogs():
        for i, text in enumerate(smiles):
            if len(text) > max_length:
                errors[i] = f"SMILES is {len(text):,} characters long; the limit is {max_length:,}"
            elif len(text) > max_heavy_atoms:  # every heavy atom takes at least one character
                mol = Chem.MolFromSmiles(text, sanitize=False)
                if mol is not None and (count := mol.GetNumHeavyAtoms()) > max_heavy_atoms:
                    errors[i] = f"molecule has {count} heavy atoms; the limit is {max_heavy_atoms}"
    return errors
