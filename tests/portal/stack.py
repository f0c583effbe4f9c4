"""Services a production-like test starts for itself: a Redis it can kill and restart, and nginx
in front of gunicorn with the project's own configuration (only ports and paths changed)."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.processes import ROOT, free_port, running

NGINX_CONF = ROOT / "docker" / "nginx.conf"


class RedisServer:
    """`redis-server` on a free port, without persistence, that a test can kill and start again."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self._stack = contextlib.ExitStack()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = self._stack.enter_context(
            running(args, env={}, log=self.folder / f"redis-{time.monotonic_ns()}.log")
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                if client.ping():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer within 20 s")
            time.sleep(0.05)

    def kill(self) -> None:
        """Stop it at once, as a crash would."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self._stack.close()
        self._stack = contextlib.ExitStack()

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.close()


def nginx_config(upstream: str, port: int, folder: Path) -> str:
    """docker/nginx.conf inside a minimal main config, with the upstream, port and paths of this test."""
    site = NGINX_CONF.read_text()
    site = re.sub(r"server web:8000;", f"server {upstream};", site)
    site = re.sub(r"listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;", site)
    site = site.replace("/var/log/nginx/", f"{folder}/")
    return f"""
daemon off;
master_process on;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{site}
}}
"""


@contextlib.contextmanager
def nginx(upstream_url: str, folder: Path) -> Iterator[str]:
    """Debian's nginx (apt-get install nginx) in front of `upstream_url`; yields its base URL."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        pytest.fail("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "nginx.conf"
    config.write_text(nginx_config(upstream_url.removeprefix("http://"), port, folder))
    checked = subprocess.run([binary, "-t", "-c", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    with running([binary, "-c", str(config)], env={}, log=folder / "nginx.out") as process:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(folder / 'error.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not listen within 20 s")
            time.sleep(0.05)
        yield url
