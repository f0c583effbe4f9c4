"""Library ingest vs the bare standardisation loop on the same records, one process: records/s and
the ratio ingest ÷ bare (target ≥ 0.8).

    .venv/bin/python benchmarks/bench_ingest.py [--library lib.smi.gz] [--n 100000] [--repeats 2]

The bare loop is what a script would do per record: MolFromSmiles, Cleanup, LargestFragmentChooser,
Uncharger, MolToSmiles and MolToInchiKey (the dedup key). The ingest is the Celery task's own code
(`screening.ingest.library_ingest`, called in-process on a library created by the upload service):
it also reads and decompresses the upload, records every invalid record's reason, deduplicates,
writes zstd Parquet shards to object storage and reports progress to PostgreSQL. Database and
storage are the end-to-end benchmark's own (`bench`, a temporary folder). Without --library, N
molecules come from `generate_library.py`.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def bare_loop(path: Path) -> int:
    from rdkit import Chem, rdBase
    from rdkit.Chem.MolStandardize import rdMolStandardize

    chooser = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
    uncharger = rdMolStandardize.Uncharger()
    done = 0
    with gzip.open(path, "rt") as lines, rdBase.BlockLogs():
        for line in lines:
            mol = Chem.MolFromSmiles(line.split()[0])
            if mol is None:
                continue
            try:
                mol = uncharger.uncharge(chooser.choose(rdMolStandardize.Cleanup(mol)))
                Chem.MolToSmiles(mol)
                Chem.MolToInchiKey(mol)
            except Exception:  # noqa: S112 - a bare loop skips what fails
                continue
            done += 1
    return done


def ingest(path: Path, team) -> int:
    from django.core.files import File

    from screening import ingest as task
    from screening import services
    from screening.models import Library

    with path.open("rb") as handle:
        library = services.library_create(
            team=team, name="bench", upload=File(handle, name=path.name), filename=path.name
        )
    task.library_ingest(library.pk)
    library.refresh_from_db()
    if library.status != Library.Status.READY:
        raise RuntimeError(library.error)
    return library.records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library", type=Path)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import resource

    from bench_end_to_end import configure, library_file

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        configure(workdir / "objects")
        from django.db import transaction

        from portal.teams.models import Team

        team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Benchmarks"})
        path = library_file(args.n, args.library, workdir)
        bare_loop(path)  # warm-up: imports, file cache
        bare_times, ingest_times = [], []
        records = 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            bare_loop(path)
            bare_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            with transaction.atomic():  # the task commits its own progress in production; the rate is the same
                records = ingest(path, team)
                transaction.set_rollback(True)
            ingest_times.append(time.perf_counter() - start)
    bare_rate = records / statistics.median(bare_times)
    ingest_rate = records / statistics.median(ingest_times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{records:,} records, {args.repeats} interleaved repeats (median), one process, peak RSS {peak:,.0f} MiB")
    print(f"  bare standardisation loop {bare_rate:>9,.0f} records/s")
    print(f"  library ingest            {ingest_rate:>9,.0f} records/s")
    best = min(bare_times) / min(ingest_times)
    print(f"  ratio ingest / bare       {ingest_rate / bare_rate:>9.3f} (best-of {best:.3f}; target ≥ 0.8)")


if __name__ == "__main__":
    main()
