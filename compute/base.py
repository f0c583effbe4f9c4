"""The contract every compute backend keeps: what a job is, what states it goes through, how to ask.

A job is one container command (an HPO trial) or an *array* of identical commands (screening shards),
where each child learns its index from the environment. Backends differ in where the container runs
(a local process, AWS Batch, a Kubernetes Job), never in what the caller sees.

This package imports neither Django nor Celery, and this module no cloud client either, so job code
inside a container can use `array_index_from_env` without the portal's dependencies.
"""

from __future__ import annotations

import abc
import enum
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Every backend exposes an array child's index as JOB_INDEX where it can; the native variables are
# read too, because AWS Batch cannot rename its own (see `array_index_from_env`).
JOB_INDEX = "JOB_INDEX"
ARRAY_INDEX_VARIABLES = (JOB_INDEX, "AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX")
# AWS Batch's limit, the smallest of the three backends'.
MAX_ARRAY_SIZE = 10_000
DEFAULT_TAIL_BYTES = 64 * 1024

_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Kubernetes label syntax, the strictest of the places labels go (Batch tags accept all of it).
_LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)")
_LABEL_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The backend no longer knows the job: its process vanished without a result, or the cloud
    # forgot it (Kubernetes TTL, Batch retention). Callers treat it as failed and may retry.
    LOST = "lost"

    @property
    def terminal(self) -> bool:
        """True once the state can no longer change."""
        return self not in (JobState.PENDING, JobState.RUNNING)


@dataclass(frozen=True)
class SecretRef:
    """A value held by the platform's secret store, never by the portal: a Kubernetes Secret (name,
    key), an AWS Secrets Manager secret (ARN, JSON key), or an entry the local backend was given."""

    name: str
    key: str

    def __post_init__(self) -> None:
        for attr in ("name", "key"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"SecretRef.{attr} must be a non-empty string, got {value!r}")


@dataclass(frozen=True)
class Resources:
    """What one job (or each array child) reserves. GPUs are NVIDIA devices."""

    vcpu: float = 1
    memory_mib: int = 2048
    gpu: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.vcpu, bool) or not isinstance(self.vcpu, int | float) or not 0 < self.vcpu <= 256:
            raise ValueError(f"Resources.vcpu must be a number above 0 and at most 256, got {self.vcpu!r}")
        if not _is_int(self.memory_mib) or not 4 <= self.memory_mib <= 4 * 1024 * 1024:
            raise ValueError(f"Resources.memory_mib must be an integer from 4 to 4194304, got {self.memory_mib!r}")
        if not _is_int(self.gpu) or not 0 <= self.gpu <= 16:
            raise ValueError(f"Resources.gpu must be an integer from 0 to 16, got {self.gpu!r}")


@dataclass(frozen=True)
class JobSpec:
    """What to run. `command` is the container's command line (arguments to the image's entrypoint,
    if it has one). `array_size=N` runs N children, each told its index through the environment
    (see `array_index_from_env`); `timeout_seconds` bounds the job's run time.

    `sensitive_env` names `env` entries whose values must not sit in a readable job description,
    e.g. a short-lived token the portal minted for this one job. Kubernetes passes them through a
    Secret it creates for (and deletes with) the Job. The local backend and AWS Batch pass them as
    ordinary variables: on Batch the value is in the container overrides, readable by whoever may
    describe jobs, so a long-lived credential belongs in `secret_env` (Secrets Manager) instead."""

    name: str
    image: str
    command: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, SecretRef] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    array_size: int | None = None
    timeout_seconds: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    sensitive_env: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _JOB_NAME.fullmatch(self.name):
            raise ValueError(
                f"JobSpec.name must be 1-128 letters, digits, '-', '_' or '.', starting with a letter or digit; "
                f"got {self.name!r}"
            )
        if not isinstance(self.image, str) or not self.image.strip() or any(c.isspace() for c in self.image):
            raise ValueError(f"JobSpec.image must be a container image reference, got {self.image!r}")
        if isinstance(self.command, str) or not isinstance(self.command, list | tuple):
            raise ValueError(f"JobSpec.command must be a list of strings (an argv), got {self.command!r}")
        if not self.command or not all(isinstance(arg, str) for arg in self.command):
            raise ValueError(f"JobSpec.command must be a non-empty list of strings, got {self.command!r}")
        object.__setattr__(self, "command", tuple(self.command))
        _check_env("JobSpec.env", self.env, str)
        _check_env("JobSpec.secret_env", self.secret_env, SecretRef)
        if both := sorted(set(self.env) & set(self.secret_env)):
            raise ValueError(f"JobSpec.env and JobSpec.secret_env both set {', '.join(both)}")
        if isinstance(self.sensitive_env, str) or not isinstance(self.sensitive_env, set | frozenset | list | tuple):
            raise ValueError(f"JobSpec.sensitive_env must be a set of variable names, got {self.sensitive_env!r}")
        object.__setattr__(self, "sensitive_env", frozenset(self.sensitive_env))
        if unknown := sorted((name for name in self.sensitive_env if name not in self.env), key=repr):
            # Only a plain value can be hidden; secret_env entries are references already.
            raise ValueError(f"JobSpec.sensitive_env names {', '.join(map(repr, unknown))}, not in JobSpec.env")
        if not isinstance(self.resources, Resources):
            raise ValueError(f"JobSpec.resources must be a Resources, got {self.resources!r}")
        if self.array_size is not None:
            if not _is_int(self.array_size) or not 1 <= self.array_size <= MAX_ARRAY_SIZE:
                raise ValueError(f"JobSpec.array_size must be None or 1 to {MAX_ARRAY_SIZE}, got {self.array_size!r}")
            if reserved := sorted(set(ARRAY_INDEX_VARIABLES) & (set(self.env) | set(self.secret_env))):
                raise ValueError(f"JobSpec.env must not set {', '.join(reserved)}: array children get their index")
        if self.timeout_seconds is not None and (not _is_int(self.timeout_seconds) or self.timeout_seconds < 1):
            raise ValueError(f"JobSpec.timeout_seconds must be None or an integer >= 1, got {self.timeout_seconds!r}")
        _check_labels(self.labels)

    @property
    def is_array(self) -> bool:
        return self.array_size is not None


@dataclass(frozen=True)
class JobStatus:
    """A job's state now. `children` (array jobs only) maps each child's index to its state, so a
    caller can tell which shard failed; `exit_code` is given where the backend reports one."""

    state: JobState
    reason: str = ""
    exit_code: int | None = None
    children: dict[int, JobState] | None = None

    def children_in(self, *states: JobState) -> list[int]:
        """Indexes of the children in any of `states`, in order."""
        return sorted(index for index, state in (self.children or {}).items() if state in states)


class ComputeBackend(abc.ABC):
    """Runs `JobSpec`s somewhere and answers for them by handle.

    Contract, the same for every implementation (tests/compute/test_backend_contract.py checks it):

    - `submit` returns at once with an opaque handle string; the job has not necessarily started.
      Store the handle: any other process with an equally configured backend can ask about it.
    - `status` answers for many handles in as few calls to the platform as it can, with an entry for
      every handle asked about. A handle the platform does not know (any more) is LOST, never an error.
    - `cancel` stops a pending or running job and its state becomes CANCELLED. Cancelling a finished
      or unknown job does nothing, and cancelling twice is harmless.
    - `logs` returns the end of the job's output, "" when there is none (yet); `index` picks an array
      child, otherwise an array job's children are concatenated, labelled.
    - The backend never retries a job itself: the caller owns retries.
    """

    name: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, **overrides: Any) -> ComputeBackend:
        """A backend configured from Django settings; keyword arguments override them."""

    @abc.abstractmethod
    def submit(self, spec: JobSpec) -> str:
        """Start `spec`; return its handle."""

    @abc.abstractmethod
    def status(self, handles: Iterable[str]) -> dict[str, JobStatus]:
        """The state of each job, keyed by handle."""

    @abc.abstractmethod
    def cancel(self, handle: str, reason: str = "") -> None:
        """Stop the job if it is still pending or running; idempotent."""

    @abc.abstractmethod
    def logs(self, handle: str, tail_bytes: int = DEFAULT_TAIL_BYTES, *, index: int | None = None) -> str:
        """The last `tail_bytes` of the job's output."""

    def wait(self, handles: Iterable[str], *, timeout: float, interval: float = 0.5) -> dict[str, JobStatus]:
        """Poll until every job is terminal; raise TimeoutError with the last states otherwise.

        For scripts and tests: in the portal a periodic task polls `status` instead of blocking."""
        wanted = list(dict.fromkeys(handles))
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.status(wanted)
            if all(statuses[handle].state.terminal for handle in wanted):
                return statuses
            if time.monotonic() >= deadline:
                states = {handle: statuses[handle].state.value for handle in wanted}
                raise TimeoutError(f"{self.name}: jobs not finished after {timeout} s: {states}")
            time.sleep(interval)


def array_index_from_env(environ: Mapping[str, str] = os.environ) -> int | None:
    """This process's index within an array job, or None outside one.

    Reads JOB_INDEX (set by the local and Kubernetes backends), then AWS_BATCH_JOB_ARRAY_INDEX (AWS
    Batch sets only this one, and reserves the AWS_BATCH_ prefix) and JOB_COMPLETION_INDEX (Kubernetes'
    own). Job code should call this rather than read one variable, so it runs on every backend."""
    for name in ARRAY_INDEX_VARIABLES:
        raw = environ.get(name, "").strip()
        if raw:
            if not raw.isdigit():
                raise ValueError(f"{name}={raw!r} is not an array index (a non-negative integer)")
            return int(raw)
    return None


SettingSource = Callable[[str], Any]


def _environment(name: str) -> Any:
    return os.environ.get(name)


_setting_source: SettingSource = _environment


def use_settings(source: SettingSource | None) -> None:
    """Where `from_settings` reads configuration: `source(name)` returns a value or None.

    The default is the process environment. The portal plugs in its Django settings when it starts
    (`portal.ops.apps`), so this package never imports Django; None restores the environment."""
    global _setting_source
    _setting_source = source or _environment


def setting(name: str, default: Any) -> Any:
    """A configuration value from the current source, or `default` when it is unset.

    Backends read their configuration through this, so they work in scripts (from the environment)
    and in the portal (from its settings); an empty string counts as unset."""
    value = _setting_source(name)
    return default if value is None or value == "" else value


def join_child_logs(tails: Mapping[int, str], tail_bytes: int) -> str:
    """Array children's logs in one text, each under a header; "" when none has output."""
    if not any(tails.values()):
        return ""
    text = "\n".join(f"--- child {index} ---\n{tail}" for index, tail in sorted(tails.items()))
    return text[-tail_bytes:]


def parse_index_ranges(text: str | None) -> set[int]:
    """Indexes from Kubernetes' compressed form, e.g. "1,3-5,7" → {1, 3, 4, 5, 7}."""
    indexes: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        indexes.update(range(int(first), int(last or first) + 1))
    return indexes


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_env(where: str, env: object, value_type: type) -> None:
    if not isinstance(env, dict):
        raise ValueError(f"{where} must be a dict, got {env!r}")
    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise ValueError(f"{where} has an invalid variable name {name!r}")
        if not isinstance(value, value_type):
            raise ValueError(f"{where}[{name!r}] must be a {value_type.__name__}, got {value!r}")


def _check_labels(labels: object) -> None:
    if not isinstance(labels, dict):
        raise ValueError(f"JobSpec.labels must be a dict, got {labels!r}")
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/") if isinstance(key, str) else ("", "", "")
        if (
            not name
            or not _LABEL_NAME.fullmatch(name)
            or (prefix and (len(prefix) > 253 or not _LABEL_PREFIX.fullmatch(prefix)))
        ):
            raise ValueError(f"JobSpec.labels has an invalid key {key!r} (Kubernetes label syntax)")
        if not isinstance(value, str) or (value and not _LABEL_NAME.fullmatch(value)):
            raise ValueError(f"JobSpec.labels[{key!r}] must be a label value (<= 63 characters), got {value!r}")
