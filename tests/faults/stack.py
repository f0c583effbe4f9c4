"""A production-like stack for fault drills: production settings, its own Redis (which a drill kills
and restarts, empty, as a Redis without persistence comes back), gunicorn, two Celery workers and
beat, all real processes on the test database and object folder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.processes import BIN, ROOT, celery_worker_args, free_port

# Short intervals so a drill sees the reconciles act within seconds, not minutes.
DRILL_SETTINGS = {
    "CAMPAIGN_RECONCILE_SECONDS": "2",
    "CAMPAIGN_SHARD_STALE_SECONDS": "30",
    "CAMPAIGN_SHARD_RESEND_SECONDS": "30",
    "LIBRARY_RECONCILE_SECONDS": "2",
    "LIBRARY_INGEST_STALE_SECONDS": "30",
    "LIBRARY_QUEUED_STALE_SECONDS": "30",
    "EXPERIMENT_RECONCILE_SECONDS": "2",
    "TRIAL_HEARTBEAT_SECONDS": "2",
    "TRIAL_STALE_SECONDS": "20",
}


def wait_for(predicate, *, timeout: float, message: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


@dataclass
class Redis:
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._answers, timeout=20, message="redis-server to answer")

    def _answers(self) -> bool:
        import redis

        with contextlib.suppress(redis.RedisError):
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        return False

    def kill(self) -> None:
        """SIGKILL: everything queued in it is gone."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Role:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL of the whole process group (a worker's main process and its pool together)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Stack:
    workdir: Path
    database_url: str
    storage_url: str
    redis: Redis = field(init=False)
    web_port: int = field(default_factory=free_port)
    roles: dict[str, Role] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.redis = Redis(free_port(), self.workdir / "redis.log")
        self.metrics_dir = self.workdir / "metrics"
        self.metrics_dir.mkdir(exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "SECRET_KEY": "fault-drill-secret-key-" + "x" * 40,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "CELERY_BROKER_URL": self.redis.url,
            "CELERY_RESULT_BACKEND": self.redis.url,
            "STORAGE_URL": self.storage_url,
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TRIAL_PORTAL_URL": self.url,
            "MODEL_CACHE_DIR": str(self.workdir / "model-cache"),
            "COMPUTE_LOCAL_DIR": str(self.workdir / "jobs"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "INFO",
            **DRILL_SETTINGS,
        }

    def _role(self, name: str, args: list[str]) -> Role:
        role = Role(name, args, self.env(), self.workdir / f"{name}.log")
        self.roles[name] = role
        return role

    def start(self) -> None:
        self.redis.start()
        web = [str(BIN / "gunicorn"), "-c", "portal/gunicorn.conf.py", "--bind", f"127.0.0.1:{self.web_port}",
               "--workers", "2", "portal.wsgi:application"]  # fmt: skip
        self._role("web", web).start()
        for index in (1, 2):
            self.start_worker(index)
        beat = [str(BIN / "celery"), "-A", "portal", "beat", "--loglevel", "INFO",
                "--schedule", str(self.workdir / "beat-schedule")]  # fmt: skip
        self._role("beat", beat).start()
        wait_for(self._web_answers, timeout=90, message="gunicorn to answer /healthz")

    def start_worker(self, index: int) -> Role:
        args = celery_worker_args(hostname=f"drill-{index}-{os.getpid()}@localhost", concurrency=1)
        return self._role(f"worker-{index}", args).start() or self.roles[f"worker-{index}"]

    def _web_answers(self) -> bool:
        for role in self.roles.values():
            if role.process is not None and role.process.poll() is not None:
                raise RuntimeError(
                    f"{role.name} exited with {role.process.returncode}:\n{role.log.read_text()[-3000:]}"
                )
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
        return False

    def restart_redis(self, *, down_seconds: float = 2.0) -> None:
        """Kill Redis and bring it back empty after `down_seconds`."""
        self.redis.kill()
        time.sleep(down_seconds)
        self.redis.start()

    def stop(self) -> None:
        for role in reversed(list(self.roles.values())):
            role.stop()
        self.redis.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{role.log.read_text()[-3000:]}" for name, role in self.roles.items())
