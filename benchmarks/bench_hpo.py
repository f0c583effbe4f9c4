"""HPO orchestration overhead: an experiment's trials through the real path — gunicorn (2 workers),
a Celery worker (queue hpo, 2 processes) on Redis, PostgreSQL, one local process per trial reporting
back over HTTP — side by side with Optuna's own `study.optimize(n_jobs=2)` on the same storage.

    .venv/bin/python benchmarks/bench_hpo.py [--trials 500] [--sleep-trials 40] [--parallelism 2]

1. Instant trials (`--trials`, default 500): the job GETs /api/trials/<id>/job/, computes a score
   from its parameters and POSTs /complete/ (standard library only, PORTAL_URL and TRIAL_TOKEN from
   its environment). The baseline is `study.optimize(objective, n_trials=N, n_jobs=2)` with the
   same sampler (the experiment's TPE, same seed and options, built by the same `make_sampler`), the
   same `suggest` and the same score, on the same PostgreSQL database (a study of its own). Per-trial
   time is given two ways:
     - cycle: for each completion, the time since the completion P (parallelism) places before it,
       i.e. what one trial costs when P run back to back (its mean is wall time x P / N);
     - duration: each Optuna trial's own ask → tell (datetime_start → datetime_complete).
   Targets: median and p95 cycle ≤ 1.5x the baseline's; flatness (mean cycle of the last 100
   trials / the first 100) ≤ 1.3. Also printed: where a project trial's time goes (from the trial
   rows' timestamps) and the CPU time per trial of every process involved.
2. One-second trials (`--sleep-trials`, default 40): the same job sleeps 1 s before completing.
   Wall time (experiment created → last trial complete) vs the ideal, trials x 1 s / parallelism
   (target ≤ 1.1); Optuna's `study.optimize` with the same sleeping objective for reference.

The experiment (made by `experiments.services.experiment_create`) names a custom image and command;
the spec refuses a custom image on the local backend, so it says `kubernetes`, and the benchmark's
Celery worker maps that backend name to the local backend (`compute.register_backend`): each
trial runs as a local process group (a runner forked by the backend's runner server, and
`python -I -S -c <job>`) exactly as the local backend runs jobs. Everything else is the portal's
own code, unchanged.

It uses its own database (`bench`, created and migrated when missing), Redis database 14 and
temporary storage and job folders. Run it on an idle machine: the portal's processes, the worker,
the trial processes and PostgreSQL share the cores, so other work inflates the project's figures
more than the single-process baseline's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import portal_database  # noqa: E402 - this folder's module, found next to the script

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
WORKER_FLAG = "--run-celery-worker"
FLATNESS_WINDOW = 100
JOB_START = "the job's interpreter and imports"  # a `process_floor` label, also read by `print_machine_floor`

# The score both sides compute from a trial's parameters (the baseline exec's it; the job embeds it).
SCORE = """
def score(p):
    return (p["x"] - 2.0) ** 2 + (p["y"] + 1.0) ** 2 + abs(p["k"] - 3) + (0.0 if p["act"] == "relu" else 0.5)
"""

# The trial job: standard library only, as a container's entry point would be.
JOB = (
    SCORE
    + """
import http.client, json, os, time, urllib.parse
base, token = os.environ["PORTAL_URL"].rstrip("/"), os.environ["TRIAL_TOKEN"]
url = urllib.parse.urlsplit(base)
path = f"{url.path}/api/trials/{token.split('.')[1]}"
connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

def call(method, name, body=None):
    data = None if body is None else json.dumps(body).encode()
    connection.request(method, f"{path}/{name}/", body=data, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    if response.status == 503:  # not ready (e.g. parameters still coming): ask again, as the portal says
        time.sleep(float(response.headers.get("Retry-After", "1")))
        return call(method, name, body)
    if response.status != 200:
        raise SystemExit(f"{method} {name}: HTTP {response.status}: {payload[:500]!r}")
    return json.loads(payload)

params = call("GET", "job")["params"]
time.sleep(float(os.environ.get("BENCH_SLEEP", "0")))
call("POST", "complete", {"metrics": {"score": score(params)}})
"""
)

SPEC = {
    "dataset": {"location": "datasets/bench-hpo.csv", "smiles_column": "smiles", "target": "y"},
    "search_space": {
        "x": {"type": "float", "low": -10, "high": 10},
        "y": {"type": "float", "low": -10, "high": 10},
        "k": {"type": "int", "low": 1, "high": 8},
        "act": {"type": "categorical", "choices": ["relu", "tanh"]},
    },
    "objective": {"metric": "score", "direction": "minimize"},
    "sampler": {"type": "tpe", "seed": 7},
    "pruner": {"type": "none"},
    "backend": {"type": "kubernetes"},
    "trial_timeout_seconds": 600,
    "retries": 0,
    "seed": 7,
}


# -- processes -------------------------------------------------------------------------------------


def configure(workdir: Path, port: int) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.test",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "STORAGE_URL": str(workdir / "objects"),
            "COMPUTE_LOCAL_DIR": str(workdir / "jobs"),
            "TRIAL_PORTAL_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
        }
    )
    portal_database.prepare(DATABASE_URL)


def run_celery_worker(hostname: str, concurrency: str) -> None:
    """The worker process: the portal's Celery worker, with `kubernetes` jobs run by the local backend."""
    import django

    django.setup()
    from compute import register_backend
    from compute.local import LocalBackend
    from portal.celery import app

    register_backend("kubernetes", LocalBackend.from_settings)
    app.worker_main(
        ["worker", "--loglevel", "INFO", "--queues", "hpo", "--concurrency", concurrency, "--hostname", hostname,
         "--without-gossip", "--without-mingle"]
    )  # fmt: skip


@contextlib.contextmanager
def portal_processes(workdir: Path, port: int, parallelism: int):
    """gunicorn (2 workers) and the Celery worker, both ready; stopped on exit."""
    import requests

    from portal.celery import app
    from tests.processes import BIN, running, wait_until_ready

    app.control.purge()
    web = [str(BIN / "gunicorn"), "-c", "portal/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "2",
           "portal.wsgi:application"]  # fmt: skip
    hostname = f"bench-hpo-{os.getpid()}@localhost"
    worker = [sys.executable, str(Path(__file__).resolve()), WORKER_FLAG, hostname, str(parallelism)]
    web_log, worker_log = workdir / "gunicorn.log", workdir / "worker.log"
    with running(web, env={}, log=web_log) as server, running(worker, env={}, log=worker_log) as celery:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{web_log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within 60 s:\n{web_log.read_text()[-3000:]}")
            time.sleep(0.2)
        wait_until_ready(app, hostname, celery, worker_log)
        yield {"web": server.pid, "worker": celery.pid}


# -- CPU accounting --------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, CPU s of waited-for children) of a process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, (int(fields[13]) + int(fields[14])) / TICK


def cpu_snapshot(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of the portal's processes by role, and of PostgreSQL's backends on our database.

    A trial's runner is forked by the local backend's runner server (a child of the worker's pool
    process) and its job is the runner's child: their time is in the server's children's time.
    """
    stats = {int(e.name): _stat(int(e.name)) for e in os.scandir("/proc") if e.name.isdigit()}
    stats = {pid: s for pid, s in stats.items() if s is not None}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, float] = {}
    for role, root in roots.items():
        tree, todo = [], [root]
        while todo:
            current = todo.pop()
            if current in stats:
                tree.append(current)
                todo += children.get(current, [])
        if role == "worker":
            out["Celery worker"] = sum(stats[pid][1] for pid in tree if not _is_trial(pid))
            # the runner server, and the runners still going; each one's ended children are in its
            # children's time (a job in its runner's, a runner in the server's once reaped)
            out["trial processes (runner + job)"] = sum(stats[pid][1] + stats[pid][2] for pid in tree if _is_trial(pid))
        else:
            out[role] = sum(stats[pid][1] for pid in tree)
    database = DATABASE_URL.rpartition("/")[2]
    out["PostgreSQL (backends on our database)"] = sum(
        stats[pid][1] for pid in stats if _cmdline(pid).startswith("postgres: ") and f" {database} " in _cmdline(pid)
    )
    out["this process"] = _stat(os.getpid())[1]
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_trial(pid: int) -> bool:
    line = _cmdline(pid)
    return "local_runner" in line or " -c " in line


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {role: after[role] - before.get(role, 0.0) for role in after}


# -- the two sides ---------------------------------------------------------------------------------


def spec_dict(name: str, trials: int, parallelism: int, sleep: float) -> dict:
    command = [sys.executable, "-I", "-S", "-c", JOB]
    model = {"image": "bench/trial:latest", "command": command, "env": {"BENCH_SLEEP": str(sleep)}}
    return {**SPEC, "name": name, "model": model, "budget": {"max_trials": trials}, "parallelism": parallelism}


def run_project(team, user, trials: int, parallelism: int, sleep: float, roots: dict[str, int]) -> dict:
    from experiments import studies
    from experiments.core.spec import parse_spec
    from experiments.models import Experiment, Trial
    from experiments.services import experiment_create

    spec = parse_spec(spec_dict(f"bench-hpo-{trials}x{sleep:g}s", trials, parallelism, sleep))
    cpu_before = cpu_snapshot(roots)
    started = time.time()
    experiment = experiment_create(team=team, spec=spec, user=user)
    deadline = time.monotonic() + 600 + trials * (sleep + 5)
    while Experiment.objects.filter(pk=experiment.pk, status__in=Experiment.ACTIVE).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"experiment {experiment.pk} still active")
        time.sleep(0.05)
    ended = time.time()
    cpu = cpu_delta(cpu_before, cpu_snapshot(roots))
    while (current := Experiment.objects.get(pk=experiment.pk)).finalised_at is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"experiment {experiment.pk} not finalised")
        time.sleep(0.2)
    finalised = time.time()
    rows = list(
        Trial.objects.filter(experiment=experiment).values(
            "state", "reason", "optuna_trial_id", "created_at", "submitted_at", "started_at", "finished_at"
        )
    )
    bad = [row for row in rows if row["state"] != Trial.State.COMPLETE]
    if current.status != Experiment.Status.SUCCEEDED or bad or len(rows) != trials:
        raise RuntimeError(f"experiment {experiment.pk}: {current.status} ({current.status_reason}); {bad[:3]}")
    optuna_trials = {t._trial_id: t for t in studies.light_study(current).get_trials(deepcopy=False)}
    return {
        "wall": max(row["finished_at"].timestamp() for row in rows) - started,
        "until_ended": ended - started,
        "finalise": finalised - ended,
        "completions": [row["finished_at"].timestamp() for row in rows],
        "durations": [duration(optuna_trials[row["optuna_trial_id"]]) for row in rows],
        "rows": rows,
        "started": started,
        "best": min(t.value for t in optuna_trials.values()),
        "cpu": cpu,
    }


def duration(trial) -> float:
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def run_baseline(trials: int, parallelism: int, sleep: float) -> dict:
    import optuna

    from experiments import studies
    from experiments.core.optimiser import make_pruner, make_sampler
    from experiments.core.search_space import suggest
    from experiments.core.spec import parse_spec

    spec = parse_spec(spec_dict("baseline", trials, parallelism, sleep))
    namespace: dict = {}
    exec(SCORE, namespace)  # noqa: S102 - our own constant
    score = namespace["score"]

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, spec)
        if sleep:
            time.sleep(sleep)
        return score(params)

    name = f"bench-hpo-baseline-{os.getpid()}-{time.time_ns()}"
    study = optuna.create_study(
        storage=studies.get_storage(),
        study_name=name,
        directions=spec.directions,
        sampler=make_sampler(spec),
        pruner=make_pruner(spec),
    )
    cpu_before = cpu_snapshot({})
    started = time.time()
    study.optimize(objective, n_trials=trials, n_jobs=parallelism)
    cpu = cpu_delta(cpu_before, cpu_snapshot({}))
    done = study.get_trials(deepcopy=False)
    result = {
        "wall": max(t.datetime_complete.timestamp() for t in done) - started,
        "completions": [t.datetime_complete.timestamp() for t in done],
        "durations": [duration(t) for t in done],
        "best": study.best_value,
        "cpu": cpu,
    }
    optuna.delete_study(study_name=name, storage=studies.get_storage())
    return result


def process_floor(workdir: Path, repeats: int = 20) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of starting a trial's two processes bare: the local backend's runner (around
    a command that does nothing) and the job's interpreter with the job's imports."""
    import resource

    from compute import local_runner

    job = [sys.executable, "-I", "-S", "-c", "import http.client, json, os, time, urllib.parse"]
    commands = {
        "runner around `true`, start to exit": [sys.executable, "-P", local_runner.__file__, "JOBDIR", "--", "true"],
        JOB_START: job,
    }
    out = {}
    for label, command in commands.items():
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        for i in range(repeats):
            jobdir = workdir / "floor" / f"{label[:3]}{i}"
            jobdir.mkdir(parents=True)
            subprocess.run([str(jobdir) if part == "JOBDIR" else part for part in command], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        out[label] = ((time.perf_counter() - started) / repeats, cpu / repeats)
    return out


# -- figures ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def cycles(completions: list[float], parallelism: int) -> list[float]:
    """For each completion, the time since the completion `parallelism` places before it: with P trials
    running at once, the time one trial costs (P consecutive intervals; one interval x P would swing
    with the way completions bunch up)."""
    ordered = sorted(completions)
    return [ordered[i] - ordered[i - parallelism] for i in range(parallelism, len(ordered))]


def in_completion_order(result: dict) -> list[float]:
    return [d for _, d in sorted(zip(result["completions"], result["durations"], strict=True))]


def flatness(values: list[float], window: int) -> float:
    return statistics.fmean(values[-window:]) / statistics.fmean(values[:window])


def ms(value: float) -> str:
    return f"{value * 1000:7.1f}"


def phases(project: dict, parallelism: int) -> dict[str, list[float]]:
    """Where a project trial's time goes, from the trial rows (clock of one host, three processes)."""
    rows = sorted(project["rows"], key=lambda row: row["created_at"])
    finished = sorted(row["finished_at"].timestamp() for row in rows)
    return {
        "a completion committed → the next trial reserved (web: wake the driver; driver: plan)": [
            rows[i + parallelism]["created_at"].timestamp() - finished[i] for i in range(len(rows) - parallelism)
        ],
        "reserved → job submitted (driver: token, fork the runner)": [
            (row["submitted_at"] - row["created_at"]).total_seconds() for row in rows
        ],
        "submitted → the job's first call answered (job starts while Optuna is told and asked)": [
            (row["started_at"] - row["submitted_at"]).total_seconds() for row in rows
        ],
        "first call → completion committed (the job's work, POST /complete/)": [
            (row["finished_at"] - row["started_at"]).total_seconds() for row in rows
        ],
    }


def print_phases(project: dict, parallelism: int) -> None:
    print("   where a project trial's time goes (median, p95 ms):")
    for label, values in phases(project, parallelism).items():
        print(f"   {ms(statistics.median(values))} {ms(percentile(values, 95))}  {label}")


def print_cpu(results: dict[str, dict], trials: int) -> None:
    print("   CPU time per trial (ms) by process, from /proc (both sides include PostgreSQL's backends):")
    for side, result in results.items():
        parts = {role: seconds for role, seconds in result["cpu"].items() if seconds > 0}
        shown = ", ".join(f"{role} {seconds / trials * 1000:.1f}" for role, seconds in parts.items())
        print(f"   {side:>9}: {sum(parts.values()) / trials * 1000:6.1f} = {shown}")


def report_instant(project: dict, baseline: dict, trials: int, parallelism: int) -> None:
    window = min(FLATNESS_WINDOW, (trials - parallelism) // 2)
    series = {
        "cycle": {"project": cycles(project["completions"], parallelism),
                  "baseline": cycles(baseline["completions"], parallelism)},
        "duration": {"project": in_completion_order(project), "baseline": in_completion_order(baseline)},
    }  # fmt: skip
    print(f"\n1. Instant trials: {trials} on each side, parallelism {parallelism}; ms per trial")
    print("   cycle: time since the completion P places earlier (per-trial cost at throughput)")
    print("   duration: the trial's own Optuna ask → tell (datetime_start → datetime_complete)")
    print(f"   {'':20}{'median':>8}{'p95':>8}{'mean':>8}  flatness: mean of last {window} / first {window}")
    for key, sides in series.items():
        for side, values in sides.items():
            print(
                f"   {key + ' ' + side:<20}{ms(statistics.median(values))} {ms(percentile(values, 95))} "
                f"{ms(statistics.fmean(values))}  {flatness(values, window):.2f}"
            )
        project_values, baseline_values = sides["project"], sides["baseline"]
        ratios = (
            statistics.median(project_values) / statistics.median(baseline_values),
            percentile(project_values, 95) / percentile(baseline_values, 95),
            statistics.fmean(project_values) / statistics.fmean(baseline_values),
        )
        print(f"   {key + ' ratio':<20}{ratios[0]:>7.2f}x {ratios[1]:>6.2f}x {ratios[2]:>6.2f}x  (project / baseline)")
    for side, values in series["cycle"].items():
        blocks = [statistics.fmean(values[i : i + 100]) * 1000 for i in range(0, len(values), 100)]
        print(f"   mean cycle per 100 trials, {side}: {', '.join(f'{b:.0f}' for b in blocks)} ms")
    cycle = series["cycle"]
    median_ratio = statistics.median(cycle["project"]) / statistics.median(cycle["baseline"])
    p95_ratio = percentile(cycle["project"], 95) / percentile(cycle["baseline"], 95)
    print(
        f"   → per-trial time (cycle) project/baseline: median {median_ratio:.2f}x, p95 {p95_ratio:.2f}x "
        f"(target ≤ 1.5); flatness project {flatness(cycle['project'], window):.2f}, "
        f"baseline {flatness(cycle['baseline'], window):.2f} (target ≤ 1.3)"
    )
    print(
        f"   wall: project {project['wall']:.1f} s (experiment created → last completion; then finalising "
        f"{project['finalise']:.1f} s), baseline {baseline['wall']:.1f} s; best score project "
        f"{project['best']:.4f}, baseline {baseline['best']:.4f}"
    )
    print_phases(project, parallelism)
    print_cpu({"project": project, "baseline": baseline}, trials)
    floor = ", ".join(f"{label} {wall * 1000:.0f} ms ({cpu * 1000:.0f} ms CPU)" for label, (wall, cpu) in
                      project["floor"].items())  # fmt: skip
    print(f"   for scale, starting a trial's processes alone: {floor}")
    print_machine_floor(project, baseline, trials, parallelism)


def print_machine_floor(project: dict, baseline: dict, trials: int, parallelism: int) -> None:
    """The shortest cycle this machine allows a process per trial with no orchestration at all — the
    baseline's CPU per trial (Optuna's ask and tell, PostgreSQL) plus the job's own interpreter, spread
    over every core, P trials at a time (a throughput bound: the cores cannot do it faster) — and the
    CPU per trial that the 1.5x target leaves for everything else the project does."""
    cores = os.cpu_count() or 1
    optuna_cpu = sum(baseline["cpu"].values()) / trials
    job_cpu = project["floor"][JOB_START][1]
    baseline_cycle = statistics.median(cycles(baseline["completions"], parallelism))
    floor_cycle = parallelism * (optuna_cpu + job_cpu) / cores
    allowed = 1.5 * baseline_cycle * cores / parallelism - (optuna_cpu + job_cpu)
    spent = sum(project["cpu"].values()) / trials - (optuna_cpu + job_cpu)
    print(
        f"   floor on this machine with no orchestration at all: (Optuna's work {optuna_cpu * 1000:.1f} + the job's "
        f"interpreter {job_cpu * 1000:.1f} ms CPU) x {parallelism} trials / {cores} cores = "
        f"{floor_cycle * 1000:.1f} ms per cycle, {floor_cycle / baseline_cycle:.2f}x the baseline's median"
    )
    print(
        f"   so the 1.5x target leaves {allowed * 1000:.1f} ms of CPU per trial for the rest (HTTP calls, state "
        f"transitions, runner, driver); the project spends {spent * 1000:.1f}"
    )


def report_sleep(project: dict, baseline: dict | None, trials: int, parallelism: int, sleep: float) -> None:
    ideal = trials * sleep / parallelism
    print(f"\n2. {sleep:g}-second trials: {trials}, parallelism {parallelism}")
    print(f"   ideal: {trials} x {sleep:g} s / {parallelism} = {ideal:.1f} s")
    ratio = project["wall"] / ideal
    print(f"   → project wall (experiment created → last completion) {project['wall']:.1f} s: {ratio:.3f}x the ideal "
          "(target ≤ 1.1)")  # fmt: skip
    if baseline is not None:
        print(f"   baseline study.optimize wall {baseline['wall']:.1f} s: {baseline['wall'] / ideal:.3f}x the ideal")
    per_trial = (project["wall"] - ideal) / (trials / parallelism)
    print(f"   project overhead per trial (in each of the {parallelism} slots): {per_trial * 1000:.0f} ms")
    print_phases(project, parallelism)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == WORKER_FLAG:
        run_celery_worker(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--trials", type=int, default=500, help="instant trials on each side (default 500)")
    parser.add_argument("--sleep-trials", type=int, default=40, help="one-second trials (default 40; 0 skips)")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds a sleeping trial sleeps (default 1)")
    parser.add_argument("--parallelism", type=int, default=2, help="trials at once on both sides (default 2)")
    parser.add_argument("--skip-baseline-sleep", action="store_true", help="no Optuna run of the sleeping trials")
    parser.add_argument("--workdir", type=Path, help="keep storage, job folders and the servers' logs here")
    args = parser.parse_args()
    if args.parallelism < 1 or args.trials < 2 * args.parallelism + 2:
        parser.error("give --parallelism ≥ 1 and --trials ≥ 2 x parallelism + 2")

    from tests.processes import free_port

    port = free_port()
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-hpo-")))
        else:
            workdir = args.workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        configure(workdir, port)
        from django.contrib.auth import get_user_model
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage

        from portal.teams.models import Membership, Team
        from portal.teams.services import membership_set
        from portal.teams.storage_keys import team_prefix

        team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Benchmarks"})
        user, _ = get_user_model().objects.get_or_create(username="bench")
        membership_set(team=team, user=user, role=Membership.Role.ADMIN)
        key = f"{team_prefix(team)}{SPEC['dataset']['location']}"
        default_storage.delete(key)
        default_storage.save(key, ContentFile(b"smiles,y\nCCO,1.0\nc1ccccc1,2.0\n", name="bench-hpo.csv"))

        print(f"{os.cpu_count()} cores; load average before: {' '.join(f'{x:.2f}' for x in load_before)}")
        print(f"baseline: optuna study.optimize, {args.trials} instant trials, n_jobs={args.parallelism} ...")
        baseline = run_baseline(args.trials, args.parallelism, 0.0)
        floor = process_floor(workdir)
        with portal_processes(workdir, port, args.parallelism) as roots:
            print(f"project: experiment of {args.trials} instant trials ...")
            project = run_project(team, user, args.trials, args.parallelism, 0.0, roots)
            project["floor"] = floor
            if args.sleep_trials:
                print(f"project: experiment of {args.sleep_trials} {args.sleep:g}-second trials ...")
                project_sleep = run_project(team, user, args.sleep_trials, args.parallelism, args.sleep, roots)
        baseline_sleep = None
        if args.sleep_trials and not args.skip_baseline_sleep:
            print(f"baseline: optuna study.optimize, {args.sleep_trials} {args.sleep:g}-second trials ...")
            baseline_sleep = run_baseline(args.sleep_trials, args.parallelism, args.sleep)
        from experiments.studies import close_storages

        close_storages()

    report_instant(project, baseline, args.trials, args.parallelism)
    if args.sleep_trials:
        report_sleep(project_sleep, baseline_sleep, args.sleep_trials, args.parallelism, args.sleep)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average after: {load}; {os.cpu_count()} cores, shared by the project's web and worker processes,")
    print("its trial processes and PostgreSQL (the baseline: one process and PostgreSQL), and by any other work")
    print(f"measured at {datetime.now().isoformat(timespec='seconds')}")


if __name__ == "__main__":
    main()
