# syntax=docker/dockerfile:1
#
# The inference image: the Django-free inference server (inference/, gunicorn with threaded
# workers) and the core it scores with (chemcore/). It installs only the core's pinned set
# (requirements/core.txt) and the server's (requirements/inference.txt) — no Django, no Celery, no
# portal code. scikit-learn packages need nothing more; PyTorch and Keras (TensorFlow) packages need
# their library, added at the trainer's versions with a build argument:
#
#   docker build -f docker/inference.Dockerfile -t inference:dev .
#   docker build -f docker/inference.Dockerfile --build-arg FLAVOURS="pytorch keras" -t inference:all .
#
# Configuration comes from the environment only (see inference/README.md): INFERENCE_MODELS (or
# INFERENCE_MODELS_FILE) lists the packages with their SHA-256; no database, no portal credentials.
# In a pod, nginx (docker/inference-nginx.conf) sits in front and gunicorn binds to loopback
# (GUNICORN_BIND=127.0.0.1:8080).

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm

# --- builder: a virtualenv with the core and the server's pinned sets (and any flavour libraries) ---
FROM python:${PYTHON_VERSION}-${DEBIAN_RELEASE} AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Space-separated flavours beyond scikit-learn: "pytorch", "keras".
ARG FLAVOURS=""
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

COPY requirements/core.txt requirements/inference.txt requirements/trainer.txt /tmp/requirements/
RUN pip install -r /tmp/requirements/core.txt -r /tmp/requirements/inference.txt \
    && libraries="" \
    && for flavour in ${FLAVOURS}; do \
        case "${flavour}" in \
            pytorch) libraries="${libraries} torch" ;; \
            keras) libraries="${libraries} tensorflow-cpu" ;; \
            *) echo "unknown flavour ${flavour}: expected pytorch or keras" >&2; exit 1 ;; \
        esac; \
    done \
    && printf '%s\n' "${libraries}" | xargs --no-run-if-empty \
        pip install --extra-index-url "${TORCH_INDEX_URL}" \
            -c /tmp/requirements/core.txt -c /tmp/requirements/trainer.txt \
    && pip check

# --- runtime: slim Python, the virtualenv, the core and the server ---------------------------------
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS runtime

# libxrender1 and libxext6: RDKit links against them. tini: PID 1 that forwards SIGTERM to gunicorn,
# which then lets in-flight requests finish. Versions are those of Debian 12 (bookworm).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libxrender1=1:0.9.10-1.1 \
        libxext6=2:1.3.4-1+b1 \
        tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 inference \
    && useradd --system --uid 10001 --gid inference --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin inference

# HOME=/tmp: the root filesystem may be read-only; unpacked packages go to INFERENCE_CACHE_DIR
# (an emptyDir in Kubernetes). One BLAS thread per process: requests are batched instead.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PORT=8080 \
    INFERENCE_CACHE_DIR=/tmp/models \
    OMP_NUM_THREADS=1

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The source stays owned by root: the server can read it but not change it.
COPY chemcore /app/chemcore
COPY inference /app/inference

USER 10001:10001
EXPOSE 8080

# Healthy once every model is loaded, verified and warmed (the readiness probe's answer).
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8080')}/v2/health/ready\", timeout=4); sys.exit(r.status != 200)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "-c", "inference/gunicorn.conf.py", "inference.wsgi:application"]
