# syntax=docker/dockerfile:1
#
# The training image: one HPO trial per container (AWS Batch, Kubernetes Jobs), on a GPU when the
# node has one. CUDA + cuDNN runtime, Python 3.11, the Django-free core's pinned set
# (requirements/core.txt: RDKit, NumPy, scikit-learn) and the flavour libraries at the portal's
# versions (requirements/trainer.txt), with PyTorch's CUDA build from PyPI and the GPU-capable
# TensorFlow wheel in place of tensorflow-cpu. No Django, no Celery. Build from the repository root:
#
#   docker build -f docker/trainer.Dockerfile -t trainer:dev .
#
# The job gets only PORTAL_URL and its trial token (TRIAL_TOKEN): it fetches its spec and data and
# reports back through the portal's API, and holds no database or storage credentials.

ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

FROM ${CUDA_IMAGE}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Python 3.11 from the deadsnakes archive (Ubuntu 22.04 ships 3.10); libxrender1/libxext6 for
# RDKit's drawing code; tini as PID 1. Versions are those of Ubuntu 22.04 (jammy).
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        software-properties-common=0.99.22.9 \
        gpg-agent=2.2.27-3ubuntu2.1 \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        python3.11=3.11.13-1+jammy1 \
        python3.11-venv=3.11.13-1+jammy1 \
        libxrender1=1:0.9.10-1build4 \
        libxext6=2:1.3.4-1build1 \
        tini=0.19.0-1 \
    && apt-get purge -y software-properties-common gpg-agent \
    && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp

COPY requirements/core.txt requirements/trainer.txt /tmp/requirements/
RUN python3.11 -m venv /opt/venv \
    && sed -i -e 's/^tensorflow-cpu==/tensorflow==/' /tmp/requirements/trainer.txt \
    && pip install -r /tmp/requirements/core.txt -r /tmp/requirements/trainer.txt \
    && pip check \
    && rm -rf /tmp/requirements

RUN groupadd --system --gid 10001 trainer \
    && useradd --system --uid 10001 --gid trainer --home-dir /tmp --no-create-home --shell /usr/sbin/nologin trainer

WORKDIR /app
# Only the Django-free code the job runs: the core, and the trial job with its HTTP client.
COPY chemcore /app/chemcore
COPY experiments/__init__.py experiments/client.py /app/experiments/
COPY experiments/trial_job /app/experiments/trial_job

USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "experiments.trial_job"]
