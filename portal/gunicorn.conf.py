"""gunicorn settings, each overridable from the environment (gunicorn also reads GUNICORN_CMD_ARGS)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
# Threads serve requests side by side; a thread reading a request body is freed once the body stops
# arriving for REQUEST_BODY_IDLE_SECONDS (portal.web.body_limits), and nginx in front reads bodies in
# full first, so slow uploads cannot take every thread.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))  # >= predict budget + 30 s; = nginx proxy read/send timeouts
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers to bound slow leaks
max_requests_jitter = 200
# Heartbeat files in memory, not on a possibly slow or read-only disk.
_shm = "/dev/shm"  # noqa: S108
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", _shm if os.path.isdir(_shm) else None)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'


def on_starting(server):
    """Metric files of a previous run (the directory may outlive a container restart) would be counted again."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    """Drop a dead worker's Prometheus files so multi-process metrics stay correct."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
