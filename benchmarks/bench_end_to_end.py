"""A generated library ingested and screened end to end through the real path — the portal's
services, a Celery worker (2 processes) on Redis, PostgreSQL, object storage — at several sizes:
wall time per stage, compounds/s, and the peak RSS of every process, with the ratio of the largest
size's peak RSS to the smallest's (target ≤ 1.5 from 100k to 1M).

    .venv/bin/python benchmarks/bench_end_to_end.py --sizes 100000 1000000 [--library lib1m.smi.gz]

It uses its own database (`bench`, created and migrated when missing), Redis database 14 and a
temporary storage folder, so it never touches the tests' or the demo's data. Libraries come from
`generate_library.py` (unique drug-like molecules); with --library the first N records are used.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import portal_database  # noqa: E402 - this folder's module, found next to the script

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def configure(storage: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.test",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "STORAGE_URL": str(storage),
            "LOG_LEVEL": "WARNING",
        }
    )
    portal_database.prepare(DATABASE_URL)


def library_file(size: int, source: Path | None, workdir: Path) -> Path:
    out = workdir / f"library-{size}.smi.gz"
    if source is None:
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "generate_library.py"), "--n", str(size), "--out", str(out)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return out
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt") as lines, gzip.open(out, "wt", compresslevel=1) as target:
        for written, line in enumerate(lines):
            if written >= size:
                break
            target.write(line)
    return out


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), MiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree(pid: int) -> list[int]:
    from tests.processes import child_pids

    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += child_pids(current)
    return out


class Watcher:
    """Polls the peak RSS of the worker's processes (pool children come and go) and of this one."""

    def __init__(self, worker_pid: int) -> None:
        self.worker_pid = worker_pid
        self.peaks: dict[str, float] = {}

    def poll(self) -> None:
        for pid in process_tree(self.worker_pid):
            role = "worker main" if pid == self.worker_pid else f"worker pool {pid}"
            self.peaks[role] = max(self.peaks.get(role, 0.0), peak_rss_mib(pid))
        self.peaks["benchmark (services, web-side)"] = peak_rss_mib(os.getpid())


def wait(done, watcher: Watcher, timeout: float) -> float:
    start = time.perf_counter()
    while not done():
        watcher.poll()
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the stage did not finish in time")
        time.sleep(0.5)
    watcher.poll()
    return time.perf_counter() - start


def run_size(size: int, source: Path | None, workdir: Path, team, user, version) -> dict:
    from django.core.files import File

    from portal.celery import app
    from screening import services as library_services
    from screening.campaigns import services
    from screening.models import Campaign, Library
    from tests.processes import celery_worker_args, running, wait_until_ready

    path = library_file(size, source, workdir)
    log = workdir / f"worker-{size}.log"
    hostname = f"bench-{size}@localhost"
    app.control.purge()
    args = celery_worker_args(hostname=hostname, queues="ingest,screening", concurrency=2)
    with running(args, env={}, log=log) as worker:
        wait_until_ready(app, hostname, worker, log)
        watcher = Watcher(worker.pid)
        started = time.perf_counter()
        with path.open("rb") as handle:
            library = library_services.library_create(
                team=team, name=f"bench {size}", upload=File(handle, name=path.name), filename=path.name
            )
        ingest = wait(
            lambda: Library.objects.get(pk=library.pk).status not in Library.ACTIVE,
            watcher,
            timeout=4 * 3600,
        )
        library.refresh_from_db()
        if library.status != Library.Status.READY:
            raise RuntimeError(f"ingest {library.status}: {library.error}")
        campaign = services.campaign_create(
            team=team, name=f"bench {size}", library=library, user=user, top_k=1000,
            models=[services.ModelChoice(version.model.name, str(version.version))],
        )  # fmt: skip
        screen = wait(
            lambda: Campaign.objects.get(pk=campaign.pk).status not in Campaign.ACTIVE,
            watcher,
            timeout=4 * 3600,
        )
        total = time.perf_counter() - started
        campaign.refresh_from_db()
        if campaign.status != Campaign.Status.SUCCEEDED:
            raise RuntimeError(f"campaign {campaign.status}: {campaign.error}")
    return {
        "size": size,
        "records": library.records,
        "compounds": library.compounds,
        "scored": campaign.scored,
        "shards": library.shards.count(),
        "ingest_s": ingest,
        "screen_s": screen,
        "total_s": total,
        "peaks": watcher.peaks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--library", type=Path, help="a generated library to take the first N records from")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        workdir = Path(tmp)
        configure(workdir / "objects")
        import datamol as dm
        from django.contrib.auth import get_user_model

        from models_registry import services as registry
        from portal.teams.models import Membership, Team
        from portal.teams.services import membership_set

        team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Benchmarks"})
        user, _ = get_user_model().objects.get_or_create(username="bench")
        membership_set(team=team, user=user, role=Membership.Role.ADMIN)
        model = registry.RegisteredModel.objects.filter(team=team, name="bench-solubility").first()
        if model is None:
            model = registry.model_create(team=team, name="bench-solubility", task="regression", target_name="SOL")
        from chemcore.standardise import StandardiseOptions
        from chemcore.training import train_and_package

        train = dm.data.solubility()
        train_and_package(
            smiles=train["smiles"].tolist(), y=train["SOL"].tolist(), task="regression", family="rf",
            params={"n_estimators": 100}, featuriser_spec={"type": "morgan", "radius": 2, "n_bits": 2048},
            out_dir=workdir / "model", target_name="SOL", standardisation=StandardiseOptions(),
        )  # fmt: skip
        version = registry.version_register_directory(model=model, directory=workdir / "model", created_by=user)

        results = [run_size(size, args.library, workdir, team, user, version) for size in args.sizes]

    print(f"\nEnd to end on {os.cpu_count()} cores: Celery worker with 2 processes, Redis, PostgreSQL, local storage")
    print(f"{'size':>10} {'compounds':>10} {'shards':>6} {'ingest s':>9} {'ingest/s':>9} {'screen s':>9} "
          f"{'screen/s':>9} {'total s':>8} {'peak RSS MiB (max process)':>27}")  # fmt: skip
    for r in results:
        print(
            f"{r['size']:>10,} {r['compounds']:>10,} {r['shards']:>6} {r['ingest_s']:>9.1f} "
            f"{r['records'] / r['ingest_s']:>9,.0f} {r['screen_s']:>9.1f} {r['scored'] / r['screen_s']:>9,.0f} "
            f"{r['total_s']:>8.1f} {max(r['peaks'].values()):>27,.0f}"
        )
        for role, peak in sorted(r["peaks"].items()):
            print(f"{'':>12}{role:<34} {peak:>8,.0f} MiB")
    if len(results) > 1:
        small, large = results[0], results[-1]
        for label, pick in (("every process", lambda role: True), ("worker processes", lambda role: "worker" in role)):
            peak = [max(v for k, v in r["peaks"].items() if pick(k)) for r in (small, large)]
            sizes = f"{large['size']:,} / at {small['size']:,}"
            print(f"peak RSS ({label}) at {sizes}: {peak[1] / peak[0]:.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
