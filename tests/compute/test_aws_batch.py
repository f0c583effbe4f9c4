"""AWS Batch against a real moto server over HTTP: what is sent, job definitions reused, describe
batched; and the mapping of Batch's states, including those moto never produces (it finishes every
job inside submit_job, so RUNNING, RUNNABLE and terminate-while-running never happen there)."""

from __future__ import annotations

import contextlib
import re
import time

import pytest

from compute import JobSpec, JobState, Resources, SecretRef
from compute.aws_batch import CANCEL_MARKER, BatchBackend, job_status

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer:1.0"


def spec(name: str = "trial", **changes) -> JobSpec:
    return JobSpec(**({"name": name, "image": IMAGE, "command": ["train", "--trial", "1"]} | changes))


class Calls:
    """Records the parameters of each call a boto3 client makes to one operation."""

    def __init__(self, client, operation: str):
        self.params: list[dict] = []
        self._client, self._event = client, f"provide-client-params.batch.{operation}"
        client.meta.events.register(self._event, self._record)

    def _record(self, params, **kwargs):
        self.params.append(dict(params))

    def close(self):
        self._client.meta.events.unregister(self._event, self._record)


@pytest.fixture
def calls(moto_batch):
    opened = []

    def watch(operation: str) -> Calls:
        opened.append(Calls(moto_batch.client("batch"), operation))
        return opened[-1]

    yield watch
    for watcher in opened:
        watcher.close()


def definitions(moto_batch, name_prefix: str = "portal-compute-") -> list[dict]:
    found = moto_batch.client("batch").describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    return [definition for definition in found if definition["jobDefinitionName"].startswith(name_prefix)]


def test_submit_sends_command_environment_tags_and_no_retries(moto_batch, calls):
    backend = moto_batch.backend()
    submits = calls("SubmitJob")

    handle = backend.submit(
        spec("hpo.exp-3.trial-7", env={"TRIAL_ID": "7"}, labels={"experiment": "exp-3"}, array_size=4)
    )

    (sent,) = submits.params
    assert re.fullmatch(r"hpo-exp-3-trial-7-[0-9a-f]{8}", sent["jobName"])  # no dots in Batch; one name per submit
    assert sent["jobQueue"] == moto_batch.job_queue
    assert sent["containerOverrides"] == {
        "command": ["train", "--trial", "1"],
        "environment": [{"name": "TRIAL_ID", "value": "7"}],
    }
    assert sent["retryStrategy"] == {"attempts": 1}
    assert sent["arrayProperties"] == {"size": 4}
    assert sent["tags"] == {"experiment": "exp-3"}
    (described,) = moto_batch.client("batch").describe_jobs(jobs=[handle])["jobs"]
    assert described["tags"] == {"experiment": "exp-3"}
    assert {"name": "TRIAL_ID", "value": "7"} in described["container"]["environment"]


def test_sensitive_env_is_sent_as_ordinary_environment(moto_batch, calls):
    """Batch has no per-job secret store: the docstring of JobSpec says so, this pins it."""
    submits = calls("SubmitJob")

    moto_batch.backend().submit(spec(env={"TRIAL_TOKEN": "tok"}, sensitive_env=frozenset({"TRIAL_TOKEN"})))

    assert submits.params[0]["containerOverrides"]["environment"] == [{"name": "TRIAL_TOKEN", "value": "tok"}]


def test_a_job_definition_is_registered_once_and_reused(moto_batch, calls):
    prefix = "reuse-test"
    registers = calls("RegisterJobDefinition")
    resources = Resources(vcpu=2, memory_mib=4096, gpu=1)

    first = moto_batch.backend(definition_prefix=prefix)
    handles = [first.submit(spec(f"trial-{n}", resources=resources, timeout_seconds=600)) for n in range(3)]
    # A fresh backend (another worker process) finds the definition instead of registering another.
    handles.append(moto_batch.backend(definition_prefix=prefix).submit(spec(resources=resources, timeout_seconds=600)))

    assert len(registers.params) == 1
    (definition,) = definitions(moto_batch, prefix)
    assert definition["containerProperties"]["image"] == IMAGE
    assert {(r["type"], r["value"]) for r in definition["containerProperties"]["resourceRequirements"]} == {
        ("VCPU", "2"),
        ("MEMORY", "4096"),
        ("GPU", "1"),
    }
    assert definition["timeout"] == {"attemptDurationSeconds": 600}
    jobs = moto_batch.client("batch").describe_jobs(jobs=handles)["jobs"]
    assert {job["jobDefinition"] for job in jobs} == {definition["jobDefinitionArn"]}

    # Anything that cannot be overridden per submit makes a new definition.
    first.submit(spec(resources=Resources(vcpu=4, memory_mib=4096, gpu=1), timeout_seconds=600))
    first.submit(spec(image="trainer:2.0", resources=resources, timeout_seconds=600))
    first.submit(spec(resources=resources, timeout_seconds=30))  # Batch's minimum is 60 s
    assert len(registers.params) == 4
    assert sorted(d.get("timeout", {}).get("attemptDurationSeconds") for d in definitions(moto_batch, prefix)) == [
        60,
        600,
        600,
        600,
    ]


def test_status_describes_150_jobs_in_two_calls(moto_batch, calls):
    backend = moto_batch.backend()
    handles = [backend.submit(spec(f"shard-{n}")) for n in range(150)]
    describes = calls("DescribeJobs")

    statuses = backend.status(handles)

    assert [len(params["jobs"]) for params in describes.params] == [100, 50]
    assert {status.state for status in statuses.values()} == {JobState.SUCCEEDED}


def test_status_never_describes_an_empty_list(moto_batch, calls):
    describes = calls("DescribeJobs")

    assert moto_batch.backend().status([]) == {}
    assert describes.params == []


def test_cancel_terminates_the_job_with_a_recognisable_reason(moto_batch, calls):
    backend = moto_batch.backend()
    terminates = calls("TerminateJob")
    handle = backend.submit(spec())

    backend.cancel(handle, reason="budget reached")
    backend.cancel("00000000-0000-0000-0000-000000000000")

    assert terminates.params[0] == {"jobId": handle, "reason": f"{CANCEL_MARKER}: budget reached"}
    # moto had already finished the job, and a finished job's outcome stands.
    assert backend.status([handle])[handle].state is JobState.SUCCEEDED


def test_a_one_child_array_is_a_plain_job_told_its_index(moto_batch, calls):
    backend = moto_batch.backend()
    submits = calls("SubmitJob")

    handle = backend.submit(spec(array_size=1))

    assert "arrayProperties" not in submits.params[0]
    assert {"name": "JOB_INDEX", "value": "0"} in submits.params[0]["containerOverrides"]["environment"]
    assert backend.status([handle])[handle].children == {0: JobState.SUCCEEDED}


def test_array_children_that_failed_are_described_one_by_one(moto_batch_failing):
    backend = moto_batch_failing.backend()
    handle = backend.submit(spec(array_size=3))

    status = backend.status([handle])[handle]

    assert status.state is JobState.FAILED
    assert status.children_in(JobState.FAILED) == [0, 1, 2]


def test_secret_env_becomes_secrets_manager_references_in_the_definition(moto_batch):
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:portal-api-AbCdEf"
    backend = moto_batch.backend(definition_prefix="secrets-test", job_role_arn="arn:aws:iam::123456789012:role/job")

    backend.submit(spec(secret_env={"API_TOKEN": SecretRef(arn, "token")}))

    (definition,) = definitions(moto_batch, "secrets-test")
    assert definition["containerProperties"]["secrets"] == [{"name": "API_TOKEN", "valueFrom": f"{arn}:token::"}]
    assert definition["containerProperties"]["jobRoleArn"] == "arn:aws:iam::123456789012:role/job"
    with pytest.raises(ValueError, match="Secrets Manager secret ARN"):
        backend.submit(spec(secret_env={"API_TOKEN": SecretRef("portal-secrets", "token")}))


def test_logs_come_from_the_cloudwatch_stream(moto_batch):
    backend = moto_batch.backend()
    handle = backend.submit(spec())
    (job,) = moto_batch.client("batch").describe_jobs(jobs=[handle])["jobs"]
    stream = job["container"]["logStreamName"]
    assert backend.logs(handle) == ""  # moto wrote nothing to it

    logs = moto_batch.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/aws/batch/job")
    logs.create_log_stream(logGroupName="/aws/batch/job", logStreamName=stream)
    now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
    events = [{"timestamp": now + n, "message": f"epoch {n}"} for n in range(3)]
    logs.put_log_events(logGroupName="/aws/batch/job", logStreamName=stream, logEvents=events)

    assert backend.logs(handle) == "epoch 0\nepoch 1\nepoch 2"
    assert backend.logs(handle, tail_bytes=7) == "epoch 2"


def test_the_backend_builds_its_own_clients_from_settings(moto_batch, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.AWS_BATCH_JOB_QUEUE = moto_batch.job_queue
    settings.AWS_BATCH_ENDPOINT_URL = moto_batch.url
    settings.AWS_DEFAULT_REGION = "eu-west-1"

    backend = BatchBackend.from_settings()
    handle = backend.submit(spec())

    assert backend.status([handle])[handle].state is JobState.SUCCEEDED


@pytest.mark.parametrize(
    ("described", "state", "reason", "exit_code"),
    [
        ({"status": "SUBMITTED"}, JobState.PENDING, "", None),
        ({"status": "PENDING"}, JobState.PENDING, "", None),
        ({"status": "RUNNABLE"}, JobState.PENDING, "", None),
        ({"status": "STARTING"}, JobState.PENDING, "", None),
        ({"status": "RUNNING"}, JobState.RUNNING, "", None),
        ({"status": "SUCCEEDED", "container": {"exitCode": 0}}, JobState.SUCCEEDED, "", 0),
        (
            {
                "status": "FAILED",
                "statusReason": "Essential container in task exited",
                "container": {"exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"},
            },
            JobState.FAILED,
            "Essential container in task exited: OutOfMemoryError: Container killed due to memory usage",
            137,
        ),
        (
            {"status": "FAILED", "statusReason": "Job attempt duration exceeded timeout"},
            JobState.FAILED,
            "Job attempt duration exceeded timeout",
            None,
        ),
        (
            {"status": "FAILED", "statusReason": f"{CANCEL_MARKER}: budget reached"},
            JobState.CANCELLED,
            "budget reached",
            None,
        ),
        ({"status": "FAILED", "statusReason": CANCEL_MARKER}, JobState.CANCELLED, "cancelled", None),
    ],
)
def test_batch_states_map_onto_job_states(described, state, reason, exit_code):
    status = job_status({"jobId": "j", **described})

    assert (status.state, status.reason, status.exit_code) == (state, reason, exit_code)


class StubClient:
    """describe_jobs answers for states moto cannot produce (a part-finished, then cancelled array)."""

    def __init__(self, jobs: list[dict]):
        self.jobs = {job["jobId"]: job for job in jobs}
        self.described: list[list[str]] = []

    def describe_jobs(self, jobs):
        self.described.append(list(jobs))
        return {"jobs": [self.jobs[job_id] for job_id in jobs if job_id in self.jobs]}


def test_array_children_of_a_running_array_are_described():
    summary = {"SUCCEEDED": 1, "RUNNING": 1, "FAILED": 1, "RUNNABLE": 1}
    client = StubClient(
        [
            {"jobId": "a", "status": "RUNNING", "arrayProperties": {"size": 4, "statusSummary": summary}},
            {"jobId": "a:0", "status": "SUCCEEDED", "container": {"exitCode": 0}},
            {"jobId": "a:1", "status": "RUNNING"},
            {"jobId": "a:2", "status": "FAILED", "container": {"exitCode": 2}},
            {"jobId": "a:3", "status": "RUNNABLE"},
        ]
    )

    status = BatchBackend("q", client=client).status(["a"])["a"]

    assert status.state is JobState.RUNNING
    assert status.children == {0: JobState.SUCCEEDED, 1: JobState.RUNNING, 2: JobState.FAILED, 3: JobState.PENDING}
    assert client.described == [["a"], ["a:0", "a:1", "a:2", "a:3"]]


def test_children_ended_by_cancelling_their_array_are_cancelled():
    client = StubClient(
        [
            {
                "jobId": "a",
                "status": "FAILED",
                "statusReason": f"{CANCEL_MARKER}: stop",
                "arrayProperties": {"size": 3, "statusSummary": {"SUCCEEDED": 1, "FAILED": 2}},
            },
            {"jobId": "a:0", "status": "SUCCEEDED", "container": {"exitCode": 0}},
            {"jobId": "a:1", "status": "FAILED", "container": {"exitCode": 1}},
            {"jobId": "a:2", "status": "FAILED", "statusReason": "Dependent Job failed"},
        ]
    )

    status = BatchBackend("q", client=client).status(["a"])["a"]

    assert status.state is JobState.CANCELLED
    assert status.children == {0: JobState.SUCCEEDED, 1: JobState.FAILED, 2: JobState.CANCELLED}


def test_a_uniform_array_needs_no_child_descriptions():
    client = StubClient(
        [{"jobId": "a", "status": "PENDING", "arrayProperties": {"size": 500, "statusSummary": {"RUNNABLE": 500}}}]
    )

    status = BatchBackend("q", client=client).status(["a"])["a"]

    assert status.children == dict.fromkeys(range(500), JobState.PENDING)
    assert client.described == [["a"]]
