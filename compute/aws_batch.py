"""Jobs on AWS Batch (boto3): one container job per trial, array jobs for screening shards.

- Job definitions are derived from what cannot be overridden per submit (image, vCPU, memory, GPUs,
  timeout, secrets, roles). Each distinct combination is registered once under a name made from
  its hash, found again with describe_job_definitions, and reused: no revision pile-up per submit.
- Submits carry the command, environment, labels (as tags) and `retryStrategy={"attempts": 1}`:
  the caller owns retries. A submit creates at most one job even when the network fails mid-call
  (`aws_batch_submit`): each job name is unique and an unclear failure is looked up before retrying.
- `status` describes 100 jobs per call (the API's limit). Array children are derived from the
  parent's status summary when they all share one state, else described as `<id>:<index>`.
- `cancel` is terminate_job, which cancels pending jobs and stops running ones; the reason is
  prefixed with a marker so the resulting FAILED job is reported as CANCELLED.

Batch specifics callers should know: an array child learns its index from
AWS_BATCH_JOB_ARRAY_INDEX only (Batch reserves the AWS_BATCH_ prefix and cannot set JOB_INDEX), so
job code reads it with `array_index_from_env`; a one-child array (Batch arrays start at two) is a
plain job given JOB_INDEX=0 and its handle ends in "#1"; Batch timeouts are at least 60 s and apply
to each array child separately; `secret_env` refers to Secrets Manager: SecretRef(name=<secret
ARN>, key=<JSON key>). Compute environments are assumed to be EC2/Spot, not Fargate.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .aws_batch_submit import NO_RETRIES, submit_job_once, unique_job_name
from .base import (
    DEFAULT_TAIL_BYTES,
    JOB_INDEX,
    ComputeBackend,
    JobSpec,
    JobState,
    JobStatus,
    join_child_logs,
    setting,
)

CANCEL_MARKER = "Cancelled by the portal"
DESCRIBE_BATCH = 100
MIN_TIMEOUT_SECONDS = 60
MAX_CHILD_LOGS = 10
SINGLE_CHILD_SUFFIX = "#1"
_PENDING = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING"}
_STATES = {"RUNNING": JobState.RUNNING, "SUCCEEDED": JobState.SUCCEEDED, "FAILED": JobState.FAILED}


_clients: dict[tuple[str, str | None, str | None, bool], Any] = {}
_clients_lock = threading.Lock()


def shared_client(service: str, region_name: str | None, endpoint_url: str | None, *, retries: bool = True) -> Any:
    """One boto3 client per service, region and endpoint in this process (they are thread-safe, and
    making one costs ~0.3 s: too much for every submit and status poll). `retries=False`: one attempt
    per call, for calls that must not be repeated blindly (SubmitJob)."""
    key = (service, region_name, endpoint_url, retries)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            attempts = {"mode": "standard", "max_attempts": 5} if retries else NO_RETRIES
            config = Config(retries=attempts, connect_timeout=10, read_timeout=30)
            # The endpoint (moto, LocalStack) serves every service at one address.
            client = _clients[key] = boto3.session.Session().client(
                service, region_name=region_name, endpoint_url=endpoint_url, config=config
            )
        return client


class BatchBackend(ComputeBackend):
    """Submits to one Batch job queue. Pass `client` (and `logs_client`) to use prepared boto3 clients;
    `submit_client` (else `client`, else a shared one without retries) makes the SubmitJob calls."""

    name = "batch"

    def __init__(
        self,
        job_queue: str,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        job_role_arn: str | None = None,
        execution_role_arn: str | None = None,
        definition_prefix: str = "portal-compute",
        log_group: str = "/aws/batch/job",
        client: Any = None,
        logs_client: Any = None,
        submit_client: Any = None,
        submit_pause_seconds: float = 1.0,
    ) -> None:
        if not job_queue:
            raise ValueError("BatchBackend needs a job queue: set AWS_BATCH_JOB_QUEUE")
        self.job_queue = job_queue
        self.region_name = region_name or None
        self.endpoint_url = endpoint_url or None
        self.job_role_arn = job_role_arn or None
        self.execution_role_arn = execution_role_arn or None
        self.definition_prefix = definition_prefix
        self.log_group = log_group
        self._client = client
        self._logs_client = logs_client
        self._submit_client = submit_client or client
        self.submit_pause_seconds = submit_pause_seconds
        self._definitions: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, **overrides: Any) -> BatchBackend:
        options = {
            "job_queue": setting("AWS_BATCH_JOB_QUEUE", ""),
            "region_name": setting("AWS_DEFAULT_REGION", None),
            "endpoint_url": setting("AWS_BATCH_ENDPOINT_URL", None),
            "job_role_arn": setting("AWS_BATCH_JOB_ROLE_ARN", None),
            "execution_role_arn": setting("AWS_BATCH_EXECUTION_ROLE_ARN", None),
        }
        return cls(**(options | overrides))

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._make_client("batch")
        return self._client

    @property
    def submit_client(self) -> Any:
        if self._submit_client is None:
            self._submit_client = shared_client("batch", self.region_name, self.endpoint_url, retries=False)
        return self._submit_client

    @property
    def logs_client(self) -> Any:
        if self._logs_client is None:
            self._logs_client = self._make_client("logs")
        return self._logs_client

    def _make_client(self, service: str) -> Any:
        return shared_client(service, self.region_name, self.endpoint_url)

    # -- submit ---------------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> str:
        environment = [{"name": name, "value": value} for name, value in spec.env.items()]
        if spec.array_size == 1:
            environment.append({"name": JOB_INDEX, "value": "0"})
        request: dict[str, Any] = {
            "jobName": unique_job_name(spec.name),
            "jobQueue": self.job_queue,
            "jobDefinition": self.job_definition(spec),
            "containerOverrides": {"command": list(spec.command), "environment": environment},
            "retryStrategy": {"attempts": 1},
            "propagateTags": True,
        }
        if spec.array_size is not None and spec.array_size > 1:
            request["arrayProperties"] = {"size": spec.array_size}
        if spec.labels:
            request["tags"] = dict(spec.labels)
        job_id = submit_job_once(self.submit_client, self.client, request, pause_seconds=self.submit_pause_seconds)
        return job_id + SINGLE_CHILD_SUFFIX if spec.array_size == 1 else job_id

    def job_definition(self, spec: JobSpec) -> str:
        """The ARN of the job definition for `spec`, registered on first use and reused after."""
        properties = self.container_properties(spec)
        timeout = max(MIN_TIMEOUT_SECONDS, spec.timeout_seconds) if spec.timeout_seconds else None
        digest = hashlib.sha256(
            json.dumps({"container": properties, "timeout": timeout}, sort_keys=True).encode()
        ).hexdigest()
        name = f"{self.definition_prefix}-{digest[:24]}"
        with self._lock:
            if name in self._definitions:
                return self._definitions[name]
            found = [
                definition
                for page in self.client.get_paginator("describe_job_definitions").paginate(
                    jobDefinitionName=name, status="ACTIVE"
                )
                for definition in page["jobDefinitions"]
            ]
            if found:
                arn = max(found, key=lambda definition: definition["revision"])["jobDefinitionArn"]
            else:
                request: dict[str, Any] = {
                    "jobDefinitionName": name,
                    "type": "container",
                    "containerProperties": properties,
                    "retryStrategy": {"attempts": 1},
                    "propagateTags": True,
                }
                if timeout:
                    request["timeout"] = {"attemptDurationSeconds": timeout}
                arn = self.client.register_job_definition(**request)["jobDefinitionArn"]
            self._definitions[name] = arn
            return arn

    def container_properties(self, spec: JobSpec) -> dict[str, Any]:
        vcpu = spec.resources.vcpu
        requirements = [
            {"type": "VCPU", "value": str(int(vcpu)) if float(vcpu).is_integer() else str(vcpu)},
            {"type": "MEMORY", "value": str(spec.resources.memory_mib)},
        ]
        if spec.resources.gpu:
            requirements.append({"type": "GPU", "value": str(spec.resources.gpu)})
        properties: dict[str, Any] = {"image": spec.image, "resourceRequirements": requirements}
        if self.job_role_arn:
            properties["jobRoleArn"] = self.job_role_arn
        if self.execution_role_arn:
            properties["executionRoleArn"] = self.execution_role_arn
        if spec.secret_env:
            secrets = []
            for variable, ref in sorted(spec.secret_env.items()):
                if not ref.name.startswith("arn:aws:secretsmanager:"):
                    raise ValueError(
                        f"JobSpec.secret_env[{variable!r}]: on AWS Batch SecretRef.name must be a Secrets Manager "
                        f"secret ARN (arn:aws:secretsmanager:...), got {ref.name!r}"
                    )
                secrets.append({"name": variable, "valueFrom": f"{ref.name}:{ref.key}::"})
            properties["secrets"] = secrets
        return properties

    # -- status ---------------------------------------------------------------------------------

    def status(self, handles: Iterable[str]) -> dict[str, JobStatus]:
        handles = list(dict.fromkeys(handles))
        described = self._describe(job_id_of(handle) for handle in handles)
        statuses = {}
        for handle in handles:
            job = described.get(job_id_of(handle))
            if job is None:
                statuses[handle] = JobStatus(JobState.LOST, reason="AWS Batch does not know this job (any more)")
                continue
            status = job_status(job)
            if handle.endswith(SINGLE_CHILD_SUFFIX):
                status = JobStatus(status.state, status.reason, status.exit_code, children={0: status.state})
            elif "arrayProperties" in job and "size" in job["arrayProperties"]:
                status = JobStatus(status.state, status.reason, status.exit_code, children=self._children(job, status))
            statuses[handle] = status
        return statuses

    def _describe(self, job_ids: Iterable[str]) -> dict[str, dict]:
        """describe_jobs, 100 at a time; never with an empty list (which some servers read as 'all')."""
        ids = list(dict.fromkeys(job_id for job_id in job_ids if job_id))
        described = {}
        for chunk in _chunks(ids, DESCRIBE_BATCH):
            for job in self.client.describe_jobs(jobs=chunk)["jobs"]:
                described[job["jobId"]] = job
        return described

    def _children(self, parent: dict, parent_status: JobStatus) -> dict[int, JobState]:
        size = parent["arrayProperties"]["size"]
        summary = {state: count for state, count in parent["arrayProperties"].get("statusSummary", {}).items() if count}
        if len(summary) == 1:
            (only, count), *_ = summary.items()
            if count == size and only != "FAILED":  # a uniform state, and no cancelled/failed to tell apart
                return dict.fromkeys(range(size), _state(only))
        described = self._describe(f"{parent['jobId']}:{index}" for index in range(size))
        children = {}
        for index in range(size):
            child = described.get(f"{parent['jobId']}:{index}")
            if child is None:
                children[index] = JobState.PENDING if not parent_status.state.terminal else JobState.LOST
                continue
            state = job_status(child).state
            if state is JobState.FAILED and parent_status.state is JobState.CANCELLED and not _exit_code(child):
                state = JobState.CANCELLED  # ended by our terminate_job of the parent
            children[index] = state
        return children

    # -- cancel ---------------------------------------------------------------------------------

    def cancel(self, handle: str, reason: str = "") -> None:
        from botocore.exceptions import ClientError

        job_id = job_id_of(handle)
        if not job_id:
            return
        message = f"{CANCEL_MARKER}: {reason}" if reason else CANCEL_MARKER
        try:
            self.client.terminate_job(jobId=job_id, reason=message[:1024])
        except ClientError as exc:
            # Unknown jobs are already gone: cancelling them is a no-op.
            if exc.response.get("Error", {}).get("Code") not in {"ClientException", "ResourceNotFoundException"}:
                raise

    # -- logs -----------------------------------------------------------------------------------

    def logs(self, handle: str, tail_bytes: int = DEFAULT_TAIL_BYTES, *, index: int | None = None) -> str:
        job_id = job_id_of(handle)
        if not job_id:
            return ""
        if index is not None and not handle.endswith(SINGLE_CHILD_SUFFIX):
            job_id = f"{job_id}:{index}"
        job = self._describe([job_id]).get(job_id)
        if job is None:
            return ""
        size = job.get("arrayProperties", {}).get("size")
        if size is None or ":" in job_id:
            return self._stream_tail(job, tail_bytes)
        children = self._describe(f"{job_id}:{child}" for child in range(min(size, MAX_CHILD_LOGS)))
        tails = {
            child: self._stream_tail(children[f"{job_id}:{child}"], tail_bytes)
            for child in range(min(size, MAX_CHILD_LOGS))
            if f"{job_id}:{child}" in children
        }
        return join_child_logs(tails, tail_bytes)

    def _stream_tail(self, job: dict, tail_bytes: int) -> str:
        """The end of the job's CloudWatch log stream; "" when there is none or it cannot be read."""
        from botocore.exceptions import BotoCoreError, ClientError

        stream = (job.get("container") or {}).get("logStreamName")
        if not stream:
            return ""
        try:
            events = self.logs_client.get_log_events(
                logGroupName=self.log_group, logStreamName=stream, startFromHead=False
            )["events"]
        except (ClientError, BotoCoreError):
            return ""
        return "\n".join(event["message"] for event in events)[-tail_bytes:]


def job_status(job: dict) -> JobStatus:
    """A JobStatus from one describe_jobs entry (children not included)."""
    status_reason = job.get("statusReason", "")
    container = job.get("container") or {}
    state = _state(job["status"])
    if state is JobState.FAILED and status_reason.startswith(CANCEL_MARKER):
        reason = status_reason[len(CANCEL_MARKER) :].lstrip(": ") or "cancelled"
        return JobStatus(JobState.CANCELLED, reason=reason, exit_code=_exit_code(job))
    reasons = [text for text in (status_reason, container.get("reason", "")) if text]
    return JobStatus(state, reason=": ".join(reasons) if state is JobState.FAILED else "", exit_code=_exit_code(job))


def _state(batch_status: str) -> JobState:
    return JobState.PENDING if batch_status in _PENDING else _STATES[batch_status]


def _exit_code(job: dict) -> int | None:
    return (job.get("container") or {}).get("exitCode")


def job_id_of(handle: str) -> str:
    return handle.removesuffix(SINGLE_CHILD_SUFFIX) if isinstance(handle, str) else ""


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
