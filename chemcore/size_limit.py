"""The bound on one molecule's size: inputs with more heavy atoms than the limit are refused before
any standardisation or featurisation.

Featurising costs grow much faster than the molecule: RDKit's 2D descriptors take ~10 ms for a
drug-like molecule, ~0.1-0.3 s at 150 heavy atoms and minutes at 1,000 (the characteristic-polynomial
descriptors Ipc/AvgIpc grow with about the fourth power of the atom count). The default of 150 keeps
every approved small-molecule drug's parent (the largest, telavancin, has 121), macrocycles
(ciclosporin 85, vancomycin 101, daptomycin 115) and cyclic peptides of up to ~18 residues, while
refusing polymers, proteins and long linear peptides (semaglutide has 291). The count is of the input
as written, counter-ions and solvents included (standardisation, which strips them, comes after), so
a salt or mixture is measured by everything it carries.

The predictor (`Predictor(max_heavy_atoms=…)`) and the campaign scorer both decide with `too_large`,
so a compound gets the same answer either way.
"""

from __future__ import annotations

from rdkit import Chem

from .rdkit_logs import quiet

DEFAULT_MAX_HEAVY_ATOMS = 150


def check_limit(limit: int | None) -> int | None:
    """`limit` as given (None: no bound), or ValueError when it is not a positive integer."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"max_heavy_atoms must be a positive integer or None, not {limit!r}")
    return limit


def too_large(smiles: str, limit: int | None) -> str | None:
    """The error "too large: 212 heavy atoms (limit 150)" when `smiles` has more heavy atoms than
    `limit`, else None (also for SMILES that do not parse: those fail later with their own reason).

    Cheap on the hot path: every atom takes at least one character of SMILES, so a string no longer
    than the limit is never parsed here; longer ones are parsed without sanitising, which counts the
    atoms as written at a fraction of a full parse's cost.
    """
    if limit is None or len(smiles) <= limit:
        return None
    with quiet():
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return None
    heavy = mol.GetNumHeavyAtoms()
    return f"too large: {heavy} heavy atoms (limit {limit})" if heavy > limit else None
