"""Real inference servers for tests: gunicorn running `inference.wsgi`, and Debian's nginx in front
with docker/inference-nginx.conf (only ports, log and temporary paths rewritten)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.processes import BIN, ROOT, free_port, running

NGINX_CONF = ROOT / "docker" / "inference-nginx.conf"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def model_entry(name: str, version: int, archive: Path, *, labels=(), uri: str | None = None, sha256=None) -> dict:
    return {
        "name": name,
        "version": version,
        "labels": list(labels),
        "uri": uri or str(archive),
        "sha256": sha256 or sha256_of(archive),
    }


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        wait_for(f"{self.url}/v2/health/ready", self, timeout)


def wait_for(url: str, server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n{server.log_text()[-4000:]}")
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            if requests.get(url, timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout} s:\n{server.log_text()[-4000:]}")
        time.sleep(0.1)


@contextlib.contextmanager
def inference_server(
    models: list[dict], tmp: Path, *, env: dict[str, str] | None = None, ready: bool = True
) -> Iterator[Server]:
    """gunicorn with the real configuration file, on a free loopback port."""
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    variables = {
        "INFERENCE_MODELS": json.dumps(models),
        "INFERENCE_CACHE_DIR": str(tmp / "cache"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",  # the portal's test settings put WARNING in the environment
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    args = [str(BIN / "gunicorn"), "-c", "inference/gunicorn.conf.py", "inference.wsgi:application"]
    log = tmp / f"gunicorn-{port}.log"
    with running(args, env=variables, log=log) as process:
        server = Server(f"http://127.0.0.1:{port}", process, log)
        wait_for(f"{server.url}/v2/health/live", server, 60)
        if ready:
            server.wait_ready()
        yield server


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    message = "Debian's nginx is not installed (apt-get install -y nginx; .ci/run installs it)"
    if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def render_nginx_conf(
    upstream_port: int, listen_port: int, folder: Path, replace: dict[str, str] | None = None
) -> Path:
    """The shipped configuration with its ports and paths swapped (each swap must match exactly once,
    so what runs is what ships), wrapped in the main context the nginx image provides."""
    text = NGINX_CONF.read_text()
    swaps = {
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{upstream_port};",
        "listen 8000 default_server;": f"listen 127.0.0.1:{listen_port} default_server;",
        "access_log /dev/stdout inference_json;": f"access_log {folder}/access.log inference_json;",
        **(replace or {}),
    }
    for old, new in swaps.items():
        assert text.count(old) == 1, f"{NGINX_CONF.name} no longer holds `{old}` exactly once"
        text = text.replace(old, new)
    (folder / "inference.conf").write_text(text)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers write the body buffers under `folder`
    main = f"""{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/inference.conf;
}}
"""
    conf = folder / "nginx.conf"
    conf.write_text(main)
    return conf


@dataclass
class Nginx:
    url: str
    folder: Path

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self) -> list[dict]:
        path = self.folder / "access.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


@contextlib.contextmanager
def nginx_in_front(upstream_url: str, folder: Path, replace: dict[str, str] | None = None) -> Iterator[Nginx]:
    binary = nginx_binary()
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = render_nginx_conf(int(upstream_url.rsplit(":", 1)[1]), port, folder, replace)
    check = subprocess.run([binary, "-t", "-p", str(folder), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    args = [binary, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"]
    with running(args, env={}, log=folder / "nginx.out"):
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/nginx-health", timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{(folder / 'nginx.out').read_text()}")
            time.sleep(0.1)
        yield Nginx(url, folder)
