"""Running containerised jobs (HPO trials, screening shard arrays) through one interface.

    from compute import JobSpec, Resources, get_backend

    backend = get_backend("batch")                 # or "local", "kubernetes"
    handle = backend.submit(JobSpec(name="trial-7", image="trainer:1.4", command=["train", "--trial", "7"]))
    backend.status([handle])[handle].state         # JobState.PENDING … SUCCEEDED / FAILED / CANCELLED / LOST

The contract is on `ComputeBackend` (base.py); implementations live in local.py, aws_batch.py and
kubernetes_jobs.py and are imported only when asked for. Django-free: backends read their settings
through `use_settings` (the environment by default; the portal plugs in its settings). Shared
pieces (`create_once`, the Kubernetes client set-up) also serve long-lived services next to jobs.
"""

from .base import (
    ARRAY_INDEX_VARIABLES,
    JOB_INDEX,
    ComputeBackend,
    JobSpec,
    JobState,
    JobStatus,
    Resources,
    SecretRef,
    array_index_from_env,
    use_settings,
)
from .registry import backend_names, get_backend, register_backend

__all__ = [
    "ARRAY_INDEX_VARIABLES",
    "JOB_INDEX",
    "ComputeBackend",
    "JobSpec",
    "JobState",
    "JobStatus",
    "Resources",
    "SecretRef",
    "array_index_from_env",
    "backend_names",
    "get_backend",
    "register_backend",
    "use_settings",
]
