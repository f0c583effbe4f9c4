# syntax=docker/dockerfile:1
#
# The portal image. The web server (gunicorn, the default command), the Celery worker, Celery beat
# and the migrations run from this one image with different commands. Build from the repository root:
#
#   docker build -f docker/portal.Dockerfile -t portal:dev .
#
# The requirement files are pinned (requirements/compile); torch's CPU-only build comes from
# PyTorch's CPU index, which satisfies the pinned torch==X ahead of PyPI's CUDA build.

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm

# --- builder: a virtualenv with every pinned requirement, compiled where a wheel is missing ----------
FROM python:${PYTHON_VERSION}-${DEBIAN_RELEASE} AS builder

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

COPY requirements/base.txt requirements/ml.txt /tmp/requirements/
RUN pip install --extra-index-url "${TORCH_INDEX_URL}" \
        -r /tmp/requirements/base.txt -r /tmp/requirements/ml.txt \
    && pip check

# --- runtime: slim Python, the virtualenv, the source, collected static files ------------------------
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS runtime

# libxrender1 and libxext6: RDKit's drawing code links against them.
# tini: PID 1 that forwards signals and reaps children (gunicorn and Celery fork).
# Versions are those of Debian 12 (bookworm).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libxrender1=1:0.9.10-1.1 \
        libxext6=2:1.3.4-1+b1 \
        tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin portal \
    && mkdir -p /data/objects /app/var \
    && chown portal:portal /data/objects /app/var

# HOME=/tmp: the root filesystem may be read-only (Kubernetes); gunicorn's control socket and
# library caches (matplotlib, Keras) go under HOME, and /tmp is always writable.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=portal.settings.production \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The source stays owned by root: the portal user can read it but not change it.
COPY . /app

# Settings need these variables at import; the values exist only for this command.
RUN SECRET_KEY=collectstatic-only-not-a-secret \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    REDIS_URL=redis://127.0.0.1:6379/0 \
    STORAGE_URL=/tmp/collectstatic-objects \
    python manage.py collectstatic --noinput --verbosity 1 \
    && find /tmp -mindepth 1 -delete

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4); sys.exit(r.status != 200)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "-c", "portal/gunicorn.conf.py", "portal.wsgi:application"]
