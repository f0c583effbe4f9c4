"""The ComputeBackend contract, checked the same way against every backend (see `harness`)."""

from __future__ import annotations

import sys
import time

import pytest

from compute import JobSpec, JobState, SecretRef

IMAGE = "registry.example.com/drug-discovery/trainer:1.0"
WAIT = 30


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for(backend, handle: str, states: set[JobState], timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while (status := backend.status([handle])[handle]).state not in states:
        assert time.monotonic() < deadline, f"{handle} still {status.state} after {timeout} s"
        time.sleep(0.05)
    return status


def test_submit_returns_a_handle_at_once_and_the_job_succeeds(harness):
    spec = JobSpec("contract-ok", IMAGE, python("print('hello from the job')"), labels={"suite": "contract"})
    handle = harness.backend.submit(spec)

    assert isinstance(handle, str)
    assert handle
    status = harness.backend.wait([handle], timeout=WAIT)[handle]
    assert status.state is JobState.SUCCEEDED
    assert status.children is None
    if harness.runs_commands:
        assert status.exit_code == 0
        assert "hello from the job" in harness.backend.logs(handle)


def test_a_failing_command_fails_the_job_with_its_exit_code(harness):
    spec = JobSpec("contract-fail", IMAGE, python("import sys; print('about to fail'); sys.exit(3)"))
    handle = harness.failing.submit(spec)

    status = harness.failing.wait([handle], timeout=WAIT)[handle]
    assert status.state is JobState.FAILED
    if harness.runs_commands:
        assert status.exit_code == 3
        assert status.reason
        assert "about to fail" in harness.failing.logs(handle)


def test_the_job_gets_its_environment_and_secrets(harness):
    if not harness.runs_commands:
        pytest.skip("moto runs no command; test_aws_batch checks what Batch is sent")
    spec = JobSpec(
        "contract-env",
        IMAGE,
        python("import os; print(os.environ['TRIAL'], os.environ['API_TOKEN'], os.environ.get('JOB_INDEX'))"),
        env={"TRIAL": "trial-7"},
        secret_env={"API_TOKEN": SecretRef("portal-secrets", "api-token")},
    )
    handle = harness.backend.submit(spec)

    assert harness.backend.wait([handle], timeout=WAIT)[handle].state is JobState.SUCCEEDED
    assert "trial-7 s3cret-token None" in harness.backend.logs(handle)


def test_sensitive_env_reaches_the_job_like_any_other_variable(harness):
    # Only how it travels differs (a Secret of the Job's own on Kubernetes); the job sees the value.
    if not harness.runs_commands:
        pytest.skip("moto runs no command; test_aws_batch checks what Batch is sent")
    spec = JobSpec(
        "contract-sensitive",
        IMAGE,
        python("import os; print('token is', os.environ['TRIAL_TOKEN'], os.environ['PORTAL_URL'])"),
        env={"PORTAL_URL": "http://portal:8000", "TRIAL_TOKEN": "tok-3f9a"},
        sensitive_env=frozenset({"TRIAL_TOKEN"}),
    )
    handle = harness.backend.submit(spec)

    assert harness.backend.wait([handle], timeout=WAIT)[handle].state is JobState.SUCCEEDED
    assert "token is tok-3f9a http://portal:8000" in harness.backend.logs(handle)


def test_cancel_stops_a_running_job_and_is_idempotent(harness):
    if not harness.runs_commands:
        pytest.skip("moto finishes Batch jobs inside submit_job, so none is left to cancel (see test_aws_batch)")
    handle = harness.backend.submit(JobSpec("contract-cancel", IMAGE, python("import time; time.sleep(60)")))
    wait_for(harness.backend, handle, {JobState.RUNNING})

    started = time.monotonic()
    harness.backend.cancel(handle, reason="no longer needed")
    assert time.monotonic() - started < 5
    status = harness.backend.status([handle])[handle]
    assert status.state is JobState.CANCELLED
    assert status.reason == "no longer needed"

    harness.backend.cancel(handle, reason="again")
    assert harness.backend.status([handle])[handle].reason == "no longer needed"


def test_cancelling_a_finished_or_unknown_job_changes_nothing(harness):
    handle = harness.backend.submit(JobSpec("contract-done", IMAGE, python("pass")))
    assert harness.backend.wait([handle], timeout=WAIT)[handle].state is JobState.SUCCEEDED

    harness.backend.cancel(handle, reason="too late")
    harness.backend.cancel(handle)
    harness.backend.cancel(harness.unknown_handle)

    assert harness.backend.status([handle])[handle].state is JobState.SUCCEEDED


def test_status_answers_for_many_handles_in_one_call(harness):
    handles = [harness.backend.submit(JobSpec(f"contract-many-{n}", IMAGE, python("pass"))) for n in range(6)]
    asked = [*handles, harness.unknown_handle, handles[0]]

    statuses = harness.backend.status(asked)

    assert set(statuses) == set(asked)
    assert statuses[harness.unknown_handle].state is JobState.LOST
    final = harness.backend.wait(handles, timeout=WAIT)
    assert {status.state for status in final.values()} == {JobState.SUCCEEDED}


def test_an_array_job_reports_which_child_failed(harness):
    # Child 1 fails; each child prints the index it was given as JOB_INDEX.
    code = "import os, sys; index = os.environ['JOB_INDEX']; print('child', index); sys.exit(index == '1')"
    spec = JobSpec("contract-array", IMAGE, python(code), array_size=3)

    if harness.runs_commands:
        handle = harness.backend.submit(spec)
        status = harness.backend.wait([handle], timeout=WAIT)[handle]
        assert status.state is JobState.FAILED
        assert status.children == {0: JobState.SUCCEEDED, 1: JobState.FAILED, 2: JobState.SUCCEEDED}
        assert status.children_in(JobState.FAILED) == [1]
        assert "child 2" in harness.backend.logs(handle, index=2)
        assert "child 0" in harness.backend.logs(handle)
    else:  # moto: every child succeeds on one server and fails on the other
        handle = harness.backend.submit(spec)
        status = harness.backend.wait([handle], timeout=WAIT)[handle]
        assert status.state is JobState.SUCCEEDED
        assert status.children == dict.fromkeys(range(3), JobState.SUCCEEDED)
        failing = harness.failing.submit(spec)
        status = harness.failing.wait([failing], timeout=WAIT)[failing]
        assert status.state is JobState.FAILED
        assert status.children == dict.fromkeys(range(3), JobState.FAILED)


def test_a_one_child_array_still_reports_its_child(harness):
    code = "import os; print('index', os.environ.get('JOB_INDEX'))"
    handle = harness.backend.submit(JobSpec("contract-array-1", IMAGE, python(code), array_size=1))

    status = harness.backend.wait([handle], timeout=WAIT)[handle]
    assert status.state is JobState.SUCCEEDED
    assert status.children == {0: JobState.SUCCEEDED}
    if harness.runs_commands:
        assert "index 0" in harness.backend.logs(handle, index=0)


def test_an_unknown_handle_is_lost(harness):
    status = harness.backend.status([harness.unknown_handle])[harness.unknown_handle]

    assert status.state is JobState.LOST
    assert harness.backend.logs(harness.unknown_handle) == ""


def test_a_job_over_its_timeout_fails_saying_so(harness):
    if not harness.runs_commands:
        pytest.skip("moto runs no command, so nothing can overrun")
    spec = JobSpec("contract-timeout", IMAGE, python("import time; time.sleep(60)"), timeout_seconds=1)
    handle = harness.backend.submit(spec)

    status = harness.backend.wait([handle], timeout=WAIT)[handle]
    assert status.state is JobState.FAILED
    assert "timed out after 1s" in status.reason
