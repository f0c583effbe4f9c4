"""Submitting a Batch job at most once, though the network may fail (see `create_once`).

Batch's SubmitJob takes no idempotency token, and boto3's own retries would send it again after a
lost answer. So the submit client makes one attempt per call (`NO_RETRIES`), each submission carries
a job name of its own (`unique_job_name`), and after an unclear failure (a read timeout, a dropped
connection, a 5xx) the queue is searched for that name before trying again. Throttling and refused
connections are plainly not submitted and are retried after a pause; any other refusal (a bad
request) is raised at once.
"""

from __future__ import annotations

import secrets
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as TransportError

from .create_once import create_once

NO_RETRIES = {"total_max_attempts": 1}
SUBMIT_ATTEMPTS = 4
MAX_JOB_NAME = 128
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}


def unique_job_name(name: str) -> str:
    """`name` as Batch allows it (letters, digits, '-' and '_', 128 at most) plus a suffix of its own,
    which tells this submission's job from any other of the same name."""
    suffix = f"-{secrets.token_hex(4)}"
    return name.replace(".", "-")[: MAX_JOB_NAME - len(suffix)] + suffix


def _unclear(exc: Exception) -> bool:
    """The request may have reached Batch and created the job."""
    if isinstance(exc, HTTPClientError):  # read timeout, connection closed before the answer
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    return False


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, TransportError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        return _unclear(exc) or exc.response.get("Error", {}).get("Code") in _THROTTLED
    return False


def find_job(client: Any, job_queue: str, job_name: str) -> str | None:
    """The id of the job of this (unique) name in the queue, whatever its state; None if there is none."""
    pages = client.get_paginator("list_jobs").paginate(
        jobQueue=job_queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
    )
    for page in pages:
        for job in page.get("jobSummaryList", []):
            if job.get("jobName") == job_name:
                return job["jobId"]
    return None


def submit_job_once(submit_client: Any, lookup_client: Any, request: dict[str, Any], *, pause_seconds: float) -> str:
    """Submit `request` (whose jobName is unique) and return the job id, the job made at most once."""
    return create_once(
        lambda: submit_client.submit_job(**request)["jobId"],
        lambda: find_job(lookup_client, request["jobQueue"], request["jobName"]),
        retryable=_retryable,
        unclear=_unclear,
        attempts=SUBMIT_ATTEMPTS,
        pause_seconds=pause_seconds,
        what=f"Batch job {request['jobName']}",
    )
