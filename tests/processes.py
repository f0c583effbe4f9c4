"""Start real portal processes (gunicorn, Celery workers) for tests, and stop them cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """The URL of the database Django is connected to (the test database during tests)."""
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{settings_dict['HOST']}{port}/{settings_dict['NAME']}"


def _stop(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def running(args: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `args` in its own process group; on exit stop the whole group."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            _stop(process)


@contextlib.contextmanager
def gunicorn(*, env: dict[str, str], log: Path, workers: int = 1) -> Iterator[str]:
    """The real web server; yields its base URL once /healthz answers."""
    port = free_port()
    args = [
        str(BIN / "gunicorn"), "-c", "portal/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)
    ]  # fmt: skip
    with running([*args, "portal.wsgi:application"], env=env, log=log) as process:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):  # booting, or a busy machine
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url


def wait_until_ready(app, hostname: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    """Return once the worker answers a control ping; fail at once, with its log, if it dies."""
    deadline = time.monotonic() + timeout
    while not app.control.ping(destination=[hostname], timeout=1.0):
        if process.poll() is not None:
            raise RuntimeError(f"The Celery worker exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"The Celery worker did not answer within {timeout} s:\n{log.read_text()[-4000:]}")


def celery_worker_args(
    *, hostname: str, queues: str = "default,ingest,screening,hpo,deploy", concurrency: int = 1
) -> list[str]:
    return [
        str(BIN / "celery"), "-A", "portal", "worker", "--loglevel", "INFO", "--queues", queues,
        "--concurrency", str(concurrency), "--hostname", hostname,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (e.g. a Celery worker's pool processes), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (in parentheses) may contain spaces: the parent pid is the 2nd field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children
