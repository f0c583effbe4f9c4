"""gunicorn for the inference server: threaded workers (gthread), so concurrent requests in one
process can be batched into one model call; graceful shutdown lets in-flight requests finish."""

import os

from inference.config import ConfigError, settings_from_env
from inference.logs import gunicorn_logconfig

# Refuse to start on bad configuration, naming the variable, before any worker forks.
try:
    _settings = settings_from_env()
except ConfigError as exc:
    raise SystemExit(f"inference server configuration: {exc}") from None

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8080')}")
# One process batches best; add workers (each loads every model) for more cores per pod.
workers = int(os.environ.get("INFERENCE_WORKERS", "1"))
threads = int(os.environ.get("INFERENCE_THREADS", "16"))
worker_class = "gthread"
# Models load in a background thread, so the worker's heartbeat never waits on a download.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))  # longer than nginx's upstream keepalive_timeout
worker_connections = 1000
_shm = "/dev/shm"  # noqa: S108
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", _shm if os.path.isdir(_shm) else None)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # the app logs one JSON line per request
# No control socket (gunicorn 27 opens one under $HOME by default): nothing here uses it, and
# several servers on one host would share its path.
control_socket_disable = True
logconfig_dict = gunicorn_logconfig(_settings.log_level, _settings.log_format)


def on_starting(server):
    """Metric files of a previous run would be counted again."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
