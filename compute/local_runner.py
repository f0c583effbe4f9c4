"""Runs one local job and records its outcome in files, so any process on the host can read it.

    python -m compute.local_runner JOBDIR [--array-size N] [--parallelism P] [--timeout S] -- CMD...
    python -I -S local_runner.py --serve

The runner leads a new session (its own process group) and records its pid. It runs CMD (or N
children of it, each with JOB_INDEX set) with output in JOBDIR/log.txt (log-<i>.txt per child), and
when the job ends writes JOBDIR/exit.json atomically. Every process of the job stays in this process
group, so ending the group ends the whole job; when the job ends, stray background processes it left
are sent SIGTERM, as a container's would be.

`--serve` is how the local backend starts runners: a small process that reads one request per line
on stdin ({"jobdir", "argv", "env"}) and forks a runner for each, answering {"pid"} on stdout. A
forked runner starts in about a millisecond, where a fresh interpreter per job costs tens of
milliseconds of CPU. The server ends when its stdin closes (its owner went away); the runners it
started go on in their own sessions.

Standard library only, and no imports from the portal: it starts fast and needs no settings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.05
EXIT_FILE = "exit.json"
PID_FILE = "pid"
CANCEL_FILE = "cancelled.json"  # written by the backend's cancel; no new child starts once it exists


def process_start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot, from /proc): with the pid it names one process,
    even after the pid is reused. None where /proc is missing or the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def write_json_atomic(path: Path, data: dict, *, sync: bool = True) -> None:
    """Write `data` so readers see the old file or the whole new one, never a part; `sync=False`
    leaves making it durable (fsync) to the caller."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w") as out:
        json.dump(data, out)
        if sync:
            out.flush()
            os.fsync(out.fileno())
    os.replace(tmp, path)


def child_result_path(jobdir: Path, index: int) -> Path:
    return jobdir / f"child-{index}.json"


def child_started_path(jobdir: Path, index: int) -> Path:
    return jobdir / f"child-{index}.started"


def log_path(jobdir: Path, index: int | None) -> Path:
    return jobdir / ("log.txt" if index is None else f"log-{index}.txt")


def describe_exit(returncode: int) -> tuple[int, str]:
    """(exit code, reason) as a container runtime reports them: a signal N becomes 128 + N."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return 128 - returncode, f"killed by {name}"
    return returncode, "" if returncode == 0 else f"exited with code {returncode}"


class Runner:
    def __init__(
        self,
        jobdir: Path,
        command: list[str],
        *,
        array_size: int | None,
        parallelism: int,
        timeout: float | None,
        grace: float,
    ) -> None:
        self.jobdir = jobdir
        self.command = command
        self.array_size = array_size
        self.parallelism = max(1, parallelism)
        self.timeout = timeout
        self.grace = grace
        self.stop_requested = False
        self.signalling_group = False
        self.running: dict[int | None, subprocess.Popen] = {}
        self.results: dict[int | None, dict] = {}

    def on_sigterm(self, signum: int, frame: object) -> None:
        if not self.signalling_group:  # our own group-wide signal reaches us too: ignore it
            self.stop_requested = True

    def run(self) -> int:
        if os.getpgrp() != os.getpid():
            os.setpgid(0, 0)  # started by hand: lead a group of our own, so ending it ends nothing else
        signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.signal(signal.SIGINT, self.on_sigterm)
        # not made durable: after a crash of the host the job is gone, whatever the file says
        record = {"pid": os.getpid(), "start": process_start_time(os.getpid())}
        write_json_atomic(self.jobdir / PID_FILE, record, sync=False)
        pending: list[int | None] = list(range(self.array_size)) if self.array_size else [None]
        deadline = time.monotonic() + self.timeout if self.timeout else None
        while pending or self.running:
            if (self.jobdir / CANCEL_FILE).exists():
                self.stop_requested = True
            if self.stop_requested:  # cancelled: the canceller records it and ends the group
                self.end_children()
                return 128 + signal.SIGTERM
            while pending and len(self.running) < self.parallelism and not self.stop_requested:
                self.start(pending.pop(0))
            for index, process in list(self.running.items()):
                if (returncode := process.poll()) is not None:
                    del self.running[index]
                    exit_code, reason = describe_exit(returncode)
                    self.record(index, exit_code, reason)
            if deadline is not None and time.monotonic() >= deadline and (pending or self.running):
                return self.time_out(pending)
            time.sleep(POLL_SECONDS)
        self.finish()
        self.signal_group(signal.SIGTERM)  # stray background processes end with the job
        return 0

    def start(self, index: int | None) -> None:
        env = dict(os.environ)
        if index is not None:
            env["JOB_INDEX"] = str(index)
            child_started_path(self.jobdir, index).touch()
        with log_path(self.jobdir, index).open("ab") as log:
            try:
                self.running[index] = subprocess.Popen(
                    self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
                )
            except OSError as exc:
                message = f"cannot start {self.command[0]!r}: {exc.strerror or exc}"
                log.write(f"{message}\n".encode())
                self.record(index, 127 if isinstance(exc, FileNotFoundError) else 126, message)

    def record(self, index: int | None, exit_code: int | None, reason: str) -> None:
        result = {
            "state": "succeeded" if exit_code == 0 else "failed",
            "exit_code": exit_code,
            "reason": reason,
            "finished_at": time.time(),
        }
        self.results[index] = result
        if index is not None:
            write_json_atomic(child_result_path(self.jobdir, index), result)

    def finish(self) -> None:
        if self.array_size is None:
            write_json_atomic(self.jobdir / EXIT_FILE, self.results[None])
            return
        failed = sorted(index for index, result in self.results.items() if result["state"] != "succeeded")
        shown = ", ".join(str(index) for index in failed[:10]) + (", …" if len(failed) > 10 else "")
        write_json_atomic(
            self.jobdir / EXIT_FILE,
            {
                "state": "failed" if failed else "succeeded",
                "exit_code": None,
                "reason": f"{len(failed)} of {self.array_size} children failed: {shown}" if failed else "",
                "finished_at": time.time(),
            },
        )

    def time_out(self, pending: list[int | None]) -> int:
        """Record the timeout first, then end every process of the job, this one last."""
        reason = f"timed out after {self.timeout:g}s"
        for index in [*self.running, *pending]:
            self.record(index, None, reason)
        if self.array_size is None:
            write_json_atomic(self.jobdir / EXIT_FILE, self.results[None])
        else:
            write_json_atomic(
                self.jobdir / EXIT_FILE,
                {"state": "failed", "exit_code": None, "reason": reason, "finished_at": time.time()},
            )
        self.signal_group(signal.SIGTERM)
        self.end_children(kill=False)
        self.signal_group(signal.SIGKILL)  # ends this process too
        return 1

    def end_children(self, kill: bool = True) -> None:
        """Wait up to the grace period for the children to exit after SIGTERM, then kill them."""
        deadline = time.monotonic() + self.grace
        while any(process.poll() is None for process in self.running.values()) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        if kill:
            for process in self.running.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()

    def signal_group(self, signum: int) -> None:
        self.signalling_group = True
        if os.getpgrp() == os.getpid():  # never signal a group this process does not lead
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgrp(), signum)


def serve() -> int:
    """Fork a runner per request line on stdin until it closes (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides when this ends, by closing stdin
    signal.signal(signal.SIGCHLD, lambda signum, frame: _reap_children())
    requests, answers = sys.stdin.buffer, sys.stdout
    for line in iter(requests.readline, b""):
        try:
            request = json.loads(line)
            pid = os.fork()
        except (ValueError, OSError) as exc:
            answers.write(json.dumps({"error": str(exc)}) + "\n")
            answers.flush()
            continue
        if pid == 0:
            os._exit(_forked_runner(request))
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
    return 0


def _reap_children() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _forked_runner(request: dict) -> int:
    """In the forked child: become the job's session leader with the job's directory, output and
    environment, then run it as `main` would."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the runner waits for its own children
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setsid()
        jobdir = Path(request["jobdir"])
        os.chdir(jobdir)
        log = os.open(jobdir / "runner.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        os.environ.clear()
        os.environ.update(request["env"])
        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m compute.local_runner")
    parser.add_argument("jobdir", type=Path)
    parser.add_argument("--array-size", type=int)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--grace", type=float, default=5.0)
    return parser


PARSER = _parser()  # made once: a server's forked runners only parse


def main(argv: list[str] | None = None) -> int:
    parser = PARSER
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        parser.error("give the command after --")
    split = argv.index("--")
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    if not command:
        parser.error("give the command after --")
    runner = Runner(
        args.jobdir,
        command,
        array_size=args.array_size,
        parallelism=args.parallelism,
        timeout=args.timeout,
        grace=args.grace,
    )
    return runner.run()


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1:] == ["--serve"] else main())
