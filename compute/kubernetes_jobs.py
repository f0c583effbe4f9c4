"""Jobs as Kubernetes batch/v1 Jobs (official Python client): trials as plain Jobs, shard arrays as
Indexed Jobs.

The manifest (`job_manifest`) keeps the contract: `restartPolicy: Never` and no pod retries of the
Job's own (`backoffLimit: 0`; Indexed Jobs use `backoffLimitPerIndex: 0` instead, so one failed shard
neither retries nor stops the others); `activeDeadlineSeconds` is the timeout; finished Jobs are
deleted by Kubernetes after `ttlSecondsAfterFinished` (after which their handles report LOST).
Array children get JOB_INDEX from the pod's completion-index annotation (Kubernetes also sets
JOB_COMPLETION_INDEX). `secret_env` refers to Kubernetes Secrets: SecretRef(name=<Secret>, key=<key>).
`sensitive_env` values go into a Secret of the Job's own ("<job name>-env", `env_secret_manifest`),
which the container reads through secretKeyRef; the Secret is owned by the Job, so Kubernetes' garbage
collector deletes it with the Job (TTL, cancel). The worker therefore needs `create` on Secrets.
A create whose answer is lost is read back by the Job's (random) name before it is tried again, so
one submit makes at most one Job.
CPU and memory are requested, memory and GPUs limited. CPU is deliberately not limited: the request
already reserves the job's share, and CFS throttling would only slow multi-threaded numeric code.

A handle is "<namespace>/<job name>". Cancelling deletes the Job (background propagation: its pods
go too) after annotating it; this backend remembers what it cancelled, so it reports CANCELLED, but
once the Job is gone another process asking about it gets LOST. Callers that need the distinction
across processes record their own cancellations.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from kubernetes import client as k8s

from .base import (
    DEFAULT_TAIL_BYTES,
    JOB_INDEX,
    ComputeBackend,
    JobSpec,
    JobState,
    JobStatus,
    join_child_logs,
    parse_index_ranges,
    setting,
)
from .create_once import create_once
from .kubernetes_client import continue_token, load_api_client, own_namespace, running_in_cluster, unanswered

CONTAINER_NAME = "job"
MANAGED_BY = {"app.kubernetes.io/managed-by": "portal-compute"}
CANCEL_ANNOTATION = "compute.portal/cancelled"
SPEC_NAME_ANNOTATION = "compute.portal/spec-name"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
DEFAULT_TTL_SECONDS = 86_400
# Reading Jobs one by one up to this many handles; beyond it one list call per namespace.
READ_ONE_BY_ONE = 3
MAX_CHILD_LOGS = 10
MAX_REMEMBERED_CANCELS = 10_000
# Room for "-<8 hex>" and, in Indexed Jobs, "-<index>" in the 63-character pod hostname.
NAME_STEM_LENGTH = 40
CREATE_ATTEMPTS = 3
_SUPPORTS_PER_INDEX_BACKOFF = "backoff_limit_per_index" in k8s.V1JobSpec.attribute_map


def job_name(spec_name: str) -> str:
    """A unique DNS-1123 label made from the spec's name."""
    stem = re.sub(r"[^a-z0-9-]+", "-", spec_name.lower()).strip("-")[:NAME_STEM_LENGTH].strip("-") or "job"
    return f"{stem}-{secrets.token_hex(4)}"


def cpu_quantity(vcpu: float) -> str:
    return str(int(vcpu)) if float(vcpu).is_integer() else f"{round(vcpu * 1000)}m"


def env_secret_name(job_name: str) -> str:
    """The Secret holding a Job's `sensitive_env` values."""
    return f"{job_name}-env"


def job_manifest(
    spec: JobSpec,
    namespace: str,
    *,
    name: str | None = None,
    ttl_seconds_after_finished: int = DEFAULT_TTL_SECONDS,
    service_account: str | None = None,
    array_parallelism: int | None = None,
    image_pull_policy: str | None = None,
) -> dict[str, Any]:
    """The batch/v1 Job for `spec`, serialised as the API server receives it."""
    name = name or job_name(spec.name)
    labels = {**spec.labels, **MANAGED_BY}
    env = [
        k8s.V1EnvVar(
            name=key,
            value_from=k8s.V1EnvVarSource(secret_key_ref=k8s.V1SecretKeySelector(name=env_secret_name(name), key=key)),
        )
        if key in spec.sensitive_env
        else k8s.V1EnvVar(name=key, value=value)
        for key, value in spec.env.items()
    ]
    env += [
        k8s.V1EnvVar(
            name=key, value_from=k8s.V1EnvVarSource(secret_key_ref=k8s.V1SecretKeySelector(name=ref.name, key=ref.key))
        )
        for key, ref in spec.secret_env.items()
    ]
    if spec.is_array:
        index_ref = k8s.V1ObjectFieldSelector(field_path=f"metadata.annotations['{COMPLETION_INDEX}']")
        env.append(k8s.V1EnvVar(name=JOB_INDEX, value_from=k8s.V1EnvVarSource(field_ref=index_ref)))
    memory = f"{spec.resources.memory_mib}Mi"
    requests = {"cpu": cpu_quantity(spec.resources.vcpu), "memory": memory}
    limits = {"memory": memory}
    tolerations = None
    if spec.resources.gpu:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(spec.resources.gpu)
        # GPU nodes are commonly tainted so only GPU workloads land on them.
        tolerations = [k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")]
    container = k8s.V1Container(
        name=CONTAINER_NAME,
        image=spec.image,
        args=list(spec.command),
        env=env or None,
        resources=k8s.V1ResourceRequirements(requests=requests, limits=limits),
        image_pull_policy=image_pull_policy,
    )
    pod = k8s.V1PodTemplateSpec(
        metadata=k8s.V1ObjectMeta(labels=labels),
        spec=k8s.V1PodSpec(
            restart_policy="Never",
            containers=[container],
            service_account_name=service_account or None,
            tolerations=tolerations,
        ),
    )
    job_options: dict[str, Any] = {"backoff_limit": 0}
    if spec.is_array:
        job_options = {
            "completion_mode": "Indexed",
            "completions": spec.array_size,
            "parallelism": min(spec.array_size, array_parallelism or spec.array_size),
            "backoff_limit": 0,
        }
        if _SUPPORTS_PER_INDEX_BACKOFF:
            # Per index, so a failed shard neither retries nor ends the others. backoffLimit is left
            # out: it then means "no overall limit", whereas 0 would end the whole Job at the first
            # failed index.
            del job_options["backoff_limit"]
            job_options["backoff_limit_per_index"] = 0
    job_spec = k8s.V1JobSpec(
        template=pod,
        ttl_seconds_after_finished=ttl_seconds_after_finished,
        active_deadline_seconds=spec.timeout_seconds,
        **job_options,
    )
    job = k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k8s.V1ObjectMeta(
            name=name, namespace=namespace, labels=labels, annotations={SPEC_NAME_ANNOTATION: spec.name}
        ),
        spec=job_spec,
    )
    return k8s.ApiClient().sanitize_for_serialization(job)


def env_secret_manifest(spec: JobSpec, namespace: str, *, job_name: str, job_uid: str) -> dict[str, Any]:
    """The Secret with `spec`'s `sensitive_env` values for the Job `job_name`, serialised as the API
    server receives it. Owned by that Job (`job_uid`), so it is garbage-collected with it."""
    owner = k8s.V1OwnerReference(
        api_version="batch/v1", kind="Job", name=job_name, uid=job_uid, block_owner_deletion=True
    )
    secret = k8s.V1Secret(
        api_version="v1",
        kind="Secret",
        type="Opaque",
        metadata=k8s.V1ObjectMeta(
            name=env_secret_name(job_name),
            namespace=namespace,
            labels={**spec.labels, **MANAGED_BY},
            owner_references=[owner],
        ),
        string_data={key: spec.env[key] for key in sorted(spec.sensitive_env)},
    )
    return k8s.ApiClient().sanitize_for_serialization(secret)


class KubernetesBackend(ComputeBackend):
    """Creates Jobs in one namespace. Pass `api_client` to use a prepared `kubernetes.client.ApiClient`;
    otherwise the in-cluster service account or the local kubeconfig is used."""

    name = "kubernetes"

    def __init__(
        self,
        namespace: str | None = None,
        *,
        api_client: k8s.ApiClient | None = None,
        in_cluster: bool | None = None,
        ttl_seconds_after_finished: int = DEFAULT_TTL_SECONDS,
        service_account: str | None = None,
        array_parallelism: int | None = None,
        image_pull_policy: str | None = None,
        create_pause_seconds: float = 1.0,
    ) -> None:
        self.namespace = namespace or own_namespace()
        self.create_pause_seconds = create_pause_seconds
        self.in_cluster = running_in_cluster() if in_cluster is None else in_cluster
        self.ttl_seconds_after_finished = ttl_seconds_after_finished
        self.service_account = service_account or None
        self.array_parallelism = array_parallelism
        self.image_pull_policy = image_pull_policy
        self._api_client = api_client
        self._cancelled: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, **overrides: Any) -> KubernetesBackend:
        options = {
            "namespace": setting("KUBERNETES_NAMESPACE", None),
            "in_cluster": setting("KUBERNETES_IN_CLUSTER", None),
            "ttl_seconds_after_finished": setting("KUBERNETES_JOB_TTL_SECONDS", DEFAULT_TTL_SECONDS),
            "service_account": setting("KUBERNETES_SERVICE_ACCOUNT", None),
        }
        return cls(**(options | overrides))

    @property
    def api_client(self) -> k8s.ApiClient:
        with self._lock:
            if self._api_client is None:
                self._api_client = load_api_client(in_cluster=self.in_cluster)
            return self._api_client

    @property
    def batch_api(self) -> k8s.BatchV1Api:
        return k8s.BatchV1Api(self.api_client)

    @property
    def core_api(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api_client)

    # -- submit ---------------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> str:
        collisions = 0
        while True:
            manifest = job_manifest(
                spec,
                self.namespace,
                ttl_seconds_after_finished=self.ttl_seconds_after_finished,
                service_account=self.service_account,
                array_parallelism=self.array_parallelism,
                image_pull_policy=self.image_pull_policy,
            )
            try:
                job = self._create_job(manifest)
            except k8s.ApiException as exc:
                collisions += 1
                if exc.status == 409 and collisions < 3:  # the random name suffix was taken: draw another
                    continue
                raise
            if spec.sensitive_env:
                # After the Job, whose uid the Secret's owner reference needs; until the Secret exists
                # the kubelet just retries starting the pod (CreateContainerConfigError).
                self._create_env_secret(spec, job)
            return f"{self.namespace}/{manifest['metadata']['name']}"

    def _create_job(self, manifest: dict) -> k8s.V1Job:
        """Create the Job at most once, though the answer may be lost (`create_once`): after a failure
        that leaves it unclear whether the API server made it (no answer, a 5xx) it is read back by
        its name — a random one, so a Job there is this one — before another attempt. (The client
        never sends a create twice itself: urllib3 retries a POST only when it could not be sent.)"""
        name, body = manifest["metadata"]["name"], k8s.V1Job.from_dict(manifest)

        def read_back() -> k8s.V1Job | None:
            try:
                return self.batch_api.read_namespaced_job(name=name, namespace=self.namespace)
            except k8s.ApiException as exc:
                if exc.status == 404:
                    return None
                raise

        return create_once(
            lambda: self.batch_api.create_namespaced_job(namespace=self.namespace, body=body),
            read_back,
            retryable=unanswered,
            unclear=unanswered,
            attempts=CREATE_ATTEMPTS,
            pause_seconds=self.create_pause_seconds,
            what=f"Job {self.namespace}/{name}",
        )

    def _create_env_secret(self, spec: JobSpec, job: k8s.V1Job) -> None:
        name = job.metadata.name
        body = env_secret_manifest(spec, self.namespace, job_name=name, job_uid=job.metadata.uid)
        try:
            self.core_api.create_namespaced_secret(namespace=self.namespace, body=body)
        except k8s.ApiException as exc:
            # Without its Secret the Job's pod could never start: take the Job back.
            try:
                self.batch_api.delete_namespaced_job(
                    name=name, namespace=self.namespace, propagation_policy="Background"
                )
            except k8s.ApiException as cleanup:
                if cleanup.status != 404:
                    exc.add_note(f"deleting Job {self.namespace}/{name} failed too: {cleanup.status} {cleanup.reason}")
            raise

    # -- status ---------------------------------------------------------------------------------

    def status(self, handles: Iterable[str]) -> dict[str, JobStatus]:
        handles = list(dict.fromkeys(handles))
        jobs = self._read_jobs(handles)
        return {handle: self._status(handle, jobs.get(handle)) for handle in handles}

    def _read_jobs(self, handles: list[str]) -> dict[str, k8s.V1Job]:
        """The Jobs that still exist, keyed by handle: one read each for a few, one list per namespace
        (of the Jobs this backend made) for many."""
        by_namespace: dict[str, set[str]] = {}
        for handle in handles:
            if parsed := _parse_handle(handle):
                by_namespace.setdefault(parsed[0], set()).add(parsed[1])
        found = {}
        if len(handles) <= READ_ONE_BY_ONE:
            for namespace, names in by_namespace.items():
                for name in names:
                    if (job := self._read_job(namespace, name)) is not None:
                        found[f"{namespace}/{name}"] = job
            return found
        selector = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())
        for namespace, names in by_namespace.items():
            token = None
            while True:
                page = self.batch_api.list_namespaced_job(
                    namespace=namespace, label_selector=selector, limit=500, _continue=token
                )
                for job in page.items or []:
                    if job.metadata.name in names:
                        found[f"{namespace}/{job.metadata.name}"] = job
                token = continue_token(page.metadata)
                if not token:
                    break
        return found

    def _read_job(self, namespace: str, name: str) -> k8s.V1Job | None:
        try:
            return self.batch_api.read_namespaced_job(name=name, namespace=namespace)
        except k8s.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _status(self, handle: str, job: k8s.V1Job | None) -> JobStatus:
        with self._lock:
            cancelled_reason = self._cancelled.get(handle)
        annotations = (job.metadata.annotations or {}) if job is not None else {}
        if cancelled_reason is None and CANCEL_ANNOTATION in annotations:
            cancelled_reason = annotations[CANCEL_ANNOTATION]
        if job is None:
            if cancelled_reason is not None:
                return JobStatus(JobState.CANCELLED, reason=cancelled_reason)
            return JobStatus(JobState.LOST, reason="Kubernetes does not know this Job (any more)")
        spec = job.spec
        status = job.status or k8s.V1JobStatus()
        conditions = {c.type: c for c in status.conditions or [] if c.status == "True"}
        exit_code = None
        if cancelled_reason is not None:
            state, reason = JobState.CANCELLED, cancelled_reason
        elif conditions.get("Complete") or conditions.get("SuccessCriteriaMet"):
            state, reason, exit_code = JobState.SUCCEEDED, "", 0
        elif failed := conditions.get("Failed") or conditions.get("FailureTarget"):
            state, reason = JobState.FAILED, _failure_reason(failed, spec)
        elif status.ready or (status.active and (status.succeeded or status.failed)):
            state, reason = JobState.RUNNING, ""
        else:
            state, reason = JobState.PENDING, ""
        indexed = spec.completion_mode == "Indexed"
        if state is JobState.FAILED and not indexed:
            exit_code, pod_reason = _pod_exit(self._pods(job))
            if pod_reason and pod_reason not in ("Error", "Completed") and pod_reason not in reason:
                reason = f"{reason}: {pod_reason}"  # e.g. OOMKilled
        # A cluster that does not count ready pods: look at the pod itself.
        if (
            state is JobState.PENDING
            and status.active
            and status.ready is None
            and not indexed
            and any(pod.status and pod.status.phase == "Running" for pod in self._pods(job))
        ):
            state = JobState.RUNNING
        children = None
        if indexed:
            children = self._children(job, state, status)
            if state is JobState.PENDING and JobState.RUNNING in children.values():
                state = JobState.RUNNING
        return JobStatus(state, reason=reason, exit_code=exit_code, children=children)

    def _children(self, job: k8s.V1Job, state: JobState, status: k8s.V1JobStatus) -> dict[int, JobState]:
        size = job.spec.completions or 1
        succeeded = parse_index_ranges(status.completed_indexes)
        failed = parse_index_ranges(status.failed_indexes)
        children = {}
        unfinished = [index for index in range(size) if index not in succeeded and index not in failed]
        running: set[int] = set()
        failed_pods: set[int] = set()
        if unfinished and not state.terminal and (status.active or status.failed):
            for pod in self._pods(job):
                index = _pod_index(pod)
                phase = pod.status.phase if pod.status else None
                if phase == "Running":
                    running.add(index)
                elif phase == "Failed":
                    failed_pods.add(index)  # a cluster without per-index backoff: no failedIndexes
        for index in range(size):
            if index in succeeded:
                children[index] = JobState.SUCCEEDED
            elif index in failed or index in failed_pods:
                children[index] = JobState.FAILED
            elif state.terminal:
                children[index] = JobState.CANCELLED if state is JobState.CANCELLED else JobState.FAILED
            else:
                children[index] = JobState.RUNNING if index in running else JobState.PENDING
        return children

    def _pods(self, job: k8s.V1Job) -> list[k8s.V1Pod]:
        try:
            pods = self.core_api.list_namespaced_pod(
                namespace=job.metadata.namespace or self.namespace, label_selector=f"job-name={job.metadata.name}"
            )
        except k8s.ApiException:
            return []
        return list(pods.items or [])

    # -- cancel ---------------------------------------------------------------------------------

    def cancel(self, handle: str, reason: str = "") -> None:
        parsed = _parse_handle(handle)
        if parsed is None:
            return
        with self._lock:
            if handle in self._cancelled:
                return
        namespace, name = parsed
        job = self._read_job(namespace, name)
        if job is None or self._status(handle, job).state.terminal:
            return  # unknown or finished: nothing to stop, and its outcome stands
        reason = reason or "cancelled"
        try:
            # Seen by anyone who reads the Job while its deletion is under way.
            self.batch_api.patch_namespaced_job(
                name=name,
                namespace=namespace,
                body={"metadata": {"annotations": {CANCEL_ANNOTATION: reason}}},
                _content_type="application/merge-patch+json",
            )
            self.batch_api.delete_namespaced_job(name=name, namespace=namespace, propagation_policy="Background")
        except k8s.ApiException as exc:
            if exc.status != 404:  # 404: it went meanwhile, which is what was asked
                raise
        with self._lock:
            self._cancelled[handle] = reason
            while len(self._cancelled) > MAX_REMEMBERED_CANCELS:
                self._cancelled.popitem(last=False)

    # -- logs -----------------------------------------------------------------------------------

    def logs(self, handle: str, tail_bytes: int = DEFAULT_TAIL_BYTES, *, index: int | None = None) -> str:
        parsed = _parse_handle(handle)
        if parsed is None:
            return ""
        namespace, name = parsed
        try:
            pods = self.core_api.list_namespaced_pod(namespace=namespace, label_selector=f"job-name={name}").items
        except k8s.ApiException:
            return ""
        pods = sorted(pods or [], key=lambda pod: (_pod_index(pod), _created(pod)))
        indexed = any(_pod_index(pod) >= 0 for pod in pods)
        if index is not None:
            pods = [pod for pod in pods if _pod_index(pod) == index]
        if not indexed or index is not None:
            return "".join(self._pod_log(pod, tail_bytes) for pod in pods[-1:])
        latest = {_pod_index(pod): pod for pod in pods}  # the last attempt per index
        tails = {child: self._pod_log(pod, tail_bytes) for child, pod in sorted(latest.items())[:MAX_CHILD_LOGS]}
        return join_child_logs(tails, tail_bytes)

    def _pod_log(self, pod: k8s.V1Pod, tail_bytes: int) -> str:
        try:
            text = self.core_api.read_namespaced_pod_log(
                name=pod.metadata.name,
                namespace=pod.metadata.namespace or self.namespace,
                container=CONTAINER_NAME,
                tail_lines=max(100, tail_bytes // 20),
            )
        except k8s.ApiException:
            return ""
        return (text or "")[-tail_bytes:]


def _parse_handle(handle: str) -> tuple[str, str] | None:
    if not isinstance(handle, str):
        return None
    namespace, _, name = handle.partition("/")
    return (namespace, name) if namespace and name and "/" not in name else None


def _failure_reason(condition: k8s.V1JobCondition, spec: k8s.V1JobSpec) -> str:
    detail = ": ".join(text for text in (condition.reason, condition.message) if text)
    if condition.reason == "DeadlineExceeded":
        return f"timed out after {spec.active_deadline_seconds}s ({detail})"
    return detail or "failed"


def _pod_index(pod: k8s.V1Pod) -> int:
    annotations = (pod.metadata.annotations or {}) if pod.metadata else {}
    labels = (pod.metadata.labels or {}) if pod.metadata else {}
    raw = annotations.get(COMPLETION_INDEX, labels.get(COMPLETION_INDEX, ""))
    return int(raw) if raw.isdigit() else -1


def _created(pod: k8s.V1Pod) -> float:
    created = pod.metadata.creation_timestamp if pod.metadata else None
    return created.timestamp() if created else 0.0


def _pod_exit(pods: list[k8s.V1Pod]) -> tuple[int | None, str]:
    """The job container's exit code and reason (e.g. OOMKilled) from the latest terminated pod."""
    for pod in sorted(pods, key=_created, reverse=True):
        for container in (pod.status.container_statuses or []) if pod.status else []:
            terminated = container.state.terminated if container.state else None
            if container.name == CONTAINER_NAME and terminated is not None:
                return terminated.exit_code, terminated.reason or ""
    return None, ""
