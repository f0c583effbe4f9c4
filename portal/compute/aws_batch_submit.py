"""Submitting a Batch job at most once, though the network may fail.

Batch's SubmitJob takes no idempotency token: a request that reached Batch but whose answer was lost
(a read timeout, a dropped connection, a 5xx) may have created the job, and sending it again — as
boto3's own retries do — starts a second one that nobody tracks. So the submit client makes one
attempt per call (`NO_RETRIES`), each submission carries a job name of its own (`unique_job_name`),
and after an unclear failure the queue is searched for that name before trying again: a job found
there is the one submitted, and its id is returned. Throttling and refused connections are plainly
not submitted and are retried after a pause; any other refusal (a bad request) is raised at once.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as TransportError

logger = logging.getLogger(__name__)

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


def submit_job_once(
    submit: Callable[..., dict],
    lookup: Callable[[str, str], str | None],
    request: dict[str, Any],
    *,
    pause_seconds: float = 1.0,
) -> str:
    """Submit `request` (whose jobName is unique) and return the job id; after an unclear failure the
    job is looked up by name before the next attempt (see the module docstring). `pause_seconds`
    grows with each attempt; it also gives Batch's job list time to show a job just created."""
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return submit(**request)["jobId"]
        except (ClientError, TransportError, HTTPClientError) as exc:
            if not _retryable(exc):
                raise
            unclear = _unclear(exc)
            if unclear or attempt < SUBMIT_ATTEMPTS:
                time.sleep(pause_seconds * attempt)
            if unclear and (found := lookup(request["jobQueue"], request["jobName"])) is not None:
                logger.info("job %s: submitted after all (%s); not submitted again", request["jobName"], exc)
                return found
            if attempt == SUBMIT_ATTEMPTS:
                raise
            logger.warning("job %s: submit failed (%s); trying again", request["jobName"], exc)
    raise AssertionError("unreachable")
