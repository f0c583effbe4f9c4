"""Jobs as processes on this host: the embedded default, needing no cloud and no container engine.

Each job gets a directory under the backend's root, named by its handle (a uuid). A small runner
(`local_runner`, forked by this process's runner server rather than started as a new interpreter)
leads a new session, so the job and everything it starts form one process group; the runner writes
the job's log, its pid and start time and, when it ends, its exit code into that directory.
State therefore lives in files, not in this process: another Celery worker on the same host (with
the same `COMPUTE_LOCAL_DIR`) reads it the same way:

- exit.json present → succeeded or failed (with the exit code and reason);
- cancelled.json present → cancelled (written by `cancel` before it ends the process group);
- runner alive → running (array children: started and unfinished → running, others pending);
- runner gone without exit.json → lost (killed by the OOM killer, the host rebooted, ...).

What differs from the container backends, by design: `spec.image` is ignored (the command runs with
this host's software), `spec.resources` are not enforced, and `secret_env` is resolved from the
`secrets` mapping given to the backend ({secret name: {key: value}}); a reference it cannot resolve
stops `submit` with a ValueError. A timeout applies to the whole job (as Kubernetes'
activeDeadlineSeconds does), and array children run at most `array_parallelism` at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import local_runner
from .base import (
    ARRAY_INDEX_VARIABLES,
    DEFAULT_TAIL_BYTES,
    ComputeBackend,
    JobSpec,
    JobState,
    JobStatus,
    join_child_logs,
    setting,
)

CANCEL_FILE = local_runner.CANCEL_FILE
SPEC_FILE = "spec.json"
# A job directory without a pid this long after it was made was never started (its submitter died).
START_GRACE_SECONDS = 60
MAX_CHILD_LOGS = 10
_HANDLE = re.compile(r"[0-9a-f]{32}")


class RunnerServer:
    """This process's `local_runner --serve`: it forks the job runners (see `local_runner`).

    Started on first use and again if it died; one per Python executable. The runners are its
    children (it reaps them), in sessions of their own, so they outlive this process as before.
    """

    def __init__(self, python: str) -> None:
        self.python = python
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def start(self, argv: list[str], env: Mapping[str, str], jobdir: Path) -> int:
        """Fork a runner with `argv` (local_runner's arguments), `env` and `jobdir`; its pid."""
        request = json.dumps({"argv": argv, "env": dict(env), "jobdir": str(jobdir)}).encode() + b"\n"
        with self.lock:
            for _attempt in range(2):  # a server that died since the last job is replaced once
                process = self._running()
                try:
                    process.stdin.write(request)
                    process.stdin.flush()
                    answer = json.loads(process.stdout.readline() or b"null")
                except (OSError, ValueError):
                    answer = None
                if isinstance(answer, dict) and isinstance(answer.get("pid"), int):
                    return answer["pid"]
                if isinstance(answer, dict) and answer.get("error"):
                    raise OSError(f"the job runner could not be started: {answer['error']}")
                self.stop()
        raise OSError("the job runner server is not answering")

    def _running(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [self.python, "-I", "-S", local_runner.__file__, "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # the terminal's Ctrl-C is for the worker; the server ends with it
            )
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            with contextlib.suppress(OSError):
                self.process.kill()
            self.process.wait()
            self.process = None


_servers: dict[str, RunnerServer] = {}
_servers_lock = threading.Lock()


def _runner_server(python: str) -> RunnerServer:
    with _servers_lock:
        server = _servers.get(python)
        if server is None:
            server = _servers[python] = RunnerServer(python)
        return server


def _forget_servers_in_child() -> None:
    """A forked copy of this process (e.g. a Celery pool process) must start servers of its own: the
    parent's pipes are the parent's."""
    global _servers, _servers_lock
    _servers, _servers_lock = {}, threading.Lock()


os.register_at_fork(after_in_child=_forget_servers_in_child)


def default_root() -> Path:
    return Path(tempfile.gettempdir()) / "portal-jobs"


class LocalBackend(ComputeBackend):
    """Jobs as process groups on this host; see the module docstring for the states' meaning."""

    name = "local"

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
        array_parallelism: int = 2,
        cancel_grace_seconds: float = 10.0,
        python: str = sys.executable,
    ) -> None:
        if array_parallelism < 1:
            raise ValueError(f"array_parallelism must be at least 1, got {array_parallelism}")
        self.root = Path(root).expanduser().resolve() if root else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.secrets = {name: dict(values) for name, values in (secrets or {}).items()}
        self.array_parallelism = array_parallelism
        self.cancel_grace_seconds = cancel_grace_seconds
        self.python = python

    @classmethod
    def from_settings(cls, **overrides: Any) -> LocalBackend:
        options: dict[str, Any] = {
            "root": setting("COMPUTE_LOCAL_DIR", None),
            "array_parallelism": setting("COMPUTE_LOCAL_PARALLELISM", 2),
        }
        return cls(**(options | overrides))

    # -- submit ---------------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> str:
        env = {name: value for name, value in os.environ.items() if name not in ARRAY_INDEX_VARIABLES}
        env.update(spec.env)
        env.update(self._resolve_secrets(spec))
        handle = uuid.uuid4().hex
        jobdir = self.root / handle
        jobdir.mkdir()
        # Written whole before the runner starts, made durable (fsync) once it has started: the runner
        # never reads it, so the job need not wait for the disk.
        local_runner.write_json_atomic(
            jobdir / SPEC_FILE,
            {
                "name": spec.name,
                "image": spec.image,
                "command": list(spec.command),
                "env": sorted(spec.env),
                "secret_env": sorted(spec.secret_env),
                "array_size": spec.array_size,
                "timeout_seconds": spec.timeout_seconds,
                "labels": spec.labels,
                "submitted_at": time.time(),
            },
            sync=False,
        )
        args = [str(jobdir), "--grace", str(self.cancel_grace_seconds)]
        if spec.array_size is not None:
            args += ["--array-size", str(spec.array_size), "--parallelism", str(self.array_parallelism)]
        if spec.timeout_seconds is not None:
            args += ["--timeout", str(spec.timeout_seconds)]
        try:
            pid = _runner_server(self.python).start([*args, "--", *spec.command], env, jobdir)
        except OSError:
            shutil.rmtree(jobdir, ignore_errors=True)
            raise
        start = local_runner.process_start_time(pid)
        local_runner.write_json_atomic(jobdir / local_runner.PID_FILE, {"pid": pid, "start": start}, sync=False)
        _fsync(jobdir / SPEC_FILE)
        return handle

    def _resolve_secrets(self, spec: JobSpec) -> dict[str, str]:
        values = {}
        for variable, ref in spec.secret_env.items():
            try:
                values[variable] = self.secrets[ref.name][ref.key]
            except KeyError:
                raise ValueError(
                    f"JobSpec.secret_env[{variable!r}] refers to secret {ref.name!r} key {ref.key!r}, which the "
                    "local backend was not given: pass secrets={name: {key: value}} to LocalBackend"
                ) from None
        return values

    # -- status ---------------------------------------------------------------------------------

    def status(self, handles: Iterable[str]) -> dict[str, JobStatus]:
        return {handle: self._status(handle) for handle in dict.fromkeys(handles)}

    def _jobdir(self, handle: str) -> Path | None:
        if not isinstance(handle, str) or not _HANDLE.fullmatch(handle):
            return None
        jobdir = self.root / handle
        return jobdir if jobdir.is_dir() else None

    def _status(self, handle: str) -> JobStatus:
        jobdir = self._jobdir(handle)
        if jobdir is None:
            return JobStatus(JobState.LOST, reason="no such job on this host")
        spec = _read_json(jobdir / SPEC_FILE) or {}
        array_size = spec.get("array_size")
        cancelled = _read_json(jobdir / CANCEL_FILE)
        result = _read_json(jobdir / local_runner.EXIT_FILE)
        if cancelled is None and result is None:
            runner = _read_json(jobdir / local_runner.PID_FILE) or {}
            if runner.get("pid") is None:
                age = time.time() - spec.get("submitted_at", time.time())
                if age < START_GRACE_SECONDS:
                    return JobStatus(JobState.PENDING, children=self._children(jobdir, array_size, JobState.PENDING))
                return JobStatus(JobState.LOST, reason="the job was never started")
            if _runner_alive(runner, jobdir.name):
                children = self._children(jobdir, array_size, JobState.PENDING)
                return JobStatus(JobState.RUNNING, children=children)
            # It may have finished between the two reads.
            cancelled = _read_json(jobdir / CANCEL_FILE)
            result = _read_json(jobdir / local_runner.EXIT_FILE)
            if cancelled is None and result is None:
                return JobStatus(
                    JobState.LOST,
                    reason="the job's process ended without recording a result",
                    children=self._children(jobdir, array_size, JobState.LOST),
                )
        if cancelled is not None:
            return JobStatus(
                JobState.CANCELLED,
                reason=cancelled.get("reason", ""),
                children=self._children(jobdir, array_size, JobState.CANCELLED),
            )
        return JobStatus(
            JobState(result["state"]),
            reason=result.get("reason", ""),
            exit_code=result.get("exit_code"),
            children=self._children(jobdir, array_size, JobState.FAILED),
        )

    def _children(self, jobdir: Path, array_size: int | None, unfinished: JobState) -> dict[int, JobState] | None:
        """Each child's state; a child without a result gets `unfinished`, or RUNNING if it started
        while the job is still going."""
        if array_size is None:
            return None
        names = set(os.listdir(jobdir))
        children = {}
        for index in range(array_size):
            if f"child-{index}.json" in names:
                result = _read_json(local_runner.child_result_path(jobdir, index)) or {}
                children[index] = JobState(result.get("state", JobState.FAILED))
            elif unfinished is JobState.PENDING and f"child-{index}.started" in names:
                children[index] = JobState.RUNNING
            else:
                children[index] = unfinished
        return children

    # -- cancel ---------------------------------------------------------------------------------

    def cancel(self, handle: str, reason: str = "") -> None:
        jobdir = self._jobdir(handle)
        if jobdir is None or self._status(handle).state.terminal:
            return  # unknown, finished, lost or already cancelled: its outcome stands
        local_runner.write_json_atomic(jobdir / CANCEL_FILE, {"reason": reason or "cancelled", "at": time.time()})
        runner = _read_json(jobdir / local_runner.PID_FILE) or {}
        pid = runner.get("pid")
        if pid is None or not _runner_alive(runner, jobdir.name):
            return  # not started yet: the runner sees the cancel file and starts nothing
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.cancel_grace_seconds
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)

    # -- logs -----------------------------------------------------------------------------------

    def logs(self, handle: str, tail_bytes: int = DEFAULT_TAIL_BYTES, *, index: int | None = None) -> str:
        jobdir = self._jobdir(handle)
        if jobdir is None:
            return ""
        array_size = (_read_json(jobdir / SPEC_FILE) or {}).get("array_size")
        if array_size is None or index is not None:
            return _tail(local_runner.log_path(jobdir, index), tail_bytes)
        tails = {
            child: _tail(local_runner.log_path(jobdir, child), tail_bytes)
            for child in range(min(array_size, MAX_CHILD_LOGS))
        }
        return join_child_logs(tails, tail_bytes)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return None


def _tail(path: Path, tail_bytes: int) -> str:
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - tail_bytes))
            return log.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) from /proc, or None when the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[2])


def _runner_alive(runner: Mapping[str, Any], handle: str) -> bool:
    """Is the process in the job's pid file (`runner`) still its runner? The start time recorded
    with the pid guards against a recycled pid (older pid files without it: the command line, which
    names the job's directory)."""
    pid = runner["pid"]
    if not Path("/proc").is_dir():  # not Linux: best effort
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    if runner.get("start") is not None:
        return local_runner.process_start_time(pid) == runner["start"]
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(handle.encode() in argument for argument in cmdline.split(b"\0"))


def _group_alive(pgid: int) -> bool:
    """Does any live (non-zombie) process remain in process group `pgid`?"""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
                return True
    return False


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
