"""Kubernetes Jobs: manifests validated against the Kubernetes 1.31 schema, and the real client driven
over HTTP against a fake API server (tests/compute/fake_kubernetes.py) — no cluster can run here, so
the fake stands in for one and each test sets the Job status a cluster would report."""

from __future__ import annotations

import copy
import json
import re

import pytest
from kubernetes.client import ApiException

from compute import JobSpec, JobState, Resources, SecretRef, kubernetes_jobs
from compute.kubernetes_jobs import CANCEL_ANNOTATION, env_secret_manifest, job_manifest

from .conftest import NAMESPACE, kubernetes_backend

IMAGE = "registry.example.com/drug-discovery/trainer:1.0"
KUBERNETES_VERSION = "1.31.0"  # the oldest release the portal supports (as tests/deploy)
JOB_LIST = r"/namespaces/[^/]+/jobs$"
ONE_JOB = r"/namespaces/[^/]+/jobs/[^/]+$"
DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

PLAIN = JobSpec("hpo-trial-7", IMAGE, ["train", "--trial", "7"], env={"TRIAL_ID": "7"})
FULL = JobSpec(
    "Screen.Campaign_12.Shards",
    IMAGE,
    ["python", "-m", "screening.campaigns.cli", "score-shard", "--campaign", "12"],
    env={"PORTAL_URL": "http://portal:8000"},
    secret_env={"PORTAL_TOKEN": SecretRef("portal-job-tokens", "campaign-12")},
    resources=Resources(vcpu=0.5, memory_mib=3072, gpu=2),
    array_size=40,
    timeout_seconds=3600,
    labels={"app.kubernetes.io/part-of": "portal", "campaign": "12"},
)
TRIAL_TOKEN = "trial-token-5f2c9a0e7b41d3"
# As experiments.jobs builds a trial's job: the bearer token must stay out of the Job.
TRIAL = JobSpec(
    "trial-3-17",
    IMAGE,
    ["python", "-m", "experiments.trial_job"],
    env={"PORTAL_URL": "http://portal:8000", "TRIAL_TOKEN": TRIAL_TOKEN},
    sensitive_env=frozenset({"TRIAL_TOKEN"}),
    timeout_seconds=600,
    labels={"app.kubernetes.io/part-of": "portal", "portal/trial": "17"},
)


def schema_errors(kubernetes_validate, manifest: dict) -> str | None:
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{'.'.join(str(part) for part in exc.path) or '(root)'}: {exc.message}"
    return None


@pytest.mark.parametrize(
    "spec",
    [
        PLAIN,
        FULL,
        JobSpec(
            "gpu-trial", IMAGE, ["train"], resources=Resources(vcpu=8, memory_mib=61440, gpu=1), timeout_seconds=60
        ),
        JobSpec("one-shard", IMAGE, ["score"], array_size=1, secret_env={"T": SecretRef("s", "k")}),
        TRIAL,
    ],
    ids=["plain", "indexed-gpu-secrets", "gpu", "one-child-array", "sensitive-env"],
)
def test_manifests_pass_the_kubernetes_schema(kubernetes_validate, spec):
    manifest = job_manifest(spec, NAMESPACE, service_account="portal-job", image_pull_policy="IfNotPresent")

    assert schema_errors(kubernetes_validate, manifest) is None


def test_the_sensitive_env_secret_passes_the_kubernetes_schema(kubernetes_validate):
    secret = env_secret_manifest(TRIAL, NAMESPACE, job_name="trial-3-17-0a1b2c3d", job_uid="5f0c-uid")

    assert schema_errors(kubernetes_validate, secret) is None
    broken = copy.deepcopy(secret)
    broken["metadata"]["ownerReferences"][0].pop("uid")  # negative control: the owner needs its uid
    assert "uid" in (schema_errors(kubernetes_validate, broken) or "")


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (lambda m: m["spec"].update(retries=3), "'retries' was unexpected"),
        (lambda m: m["spec"].update(backoffLimitPerIndex="none"), "spec.backoffLimitPerIndex: 'none' is not"),
        (lambda m: m["spec"]["template"]["spec"]["containers"][0].update(env="TRIAL_ID=7"), "containers.0.env:"),
    ],
    ids=["unknown-field", "wrong-type", "env-not-a-list"],
)
def test_the_schema_check_catches_a_broken_manifest(kubernetes_validate, breakage, where):
    """A negative control: the validation above would notice a malformed manifest."""
    manifest = copy.deepcopy(job_manifest(FULL, NAMESPACE))
    breakage(manifest)

    errors = schema_errors(kubernetes_validate, manifest)

    assert errors is not None
    assert where in errors


def test_a_plain_job_runs_once_with_no_retries():
    manifest = job_manifest(PLAIN, NAMESPACE, ttl_seconds_after_finished=600)
    spec = manifest["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]

    assert (manifest["apiVersion"], manifest["kind"], manifest["metadata"]["namespace"]) == ("batch/v1", "Job", "jobs")
    assert spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 600
    assert "completionMode" not in spec
    assert "activeDeadlineSeconds" not in spec
    assert pod["restartPolicy"] == "Never"
    assert container["image"] == IMAGE
    assert container["args"] == ["train", "--trial", "7"]  # the image's entrypoint, if any, stays
    assert container["env"] == [{"name": "TRIAL_ID", "value": "7"}]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2048Mi"},
        "limits": {"memory": "2048Mi"},
    }


def test_an_array_is_an_indexed_job_with_per_index_failure_and_everything_else_mapped():
    manifest = job_manifest(FULL, NAMESPACE, service_account="portal-job", array_parallelism=8)
    spec = manifest["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]

    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 40, 8)
    assert spec["backoffLimitPerIndex"] == 0
    assert "backoffLimit" not in spec  # 0 would end every shard at the first failure
    assert spec["activeDeadlineSeconds"] == 3600
    assert pod["serviceAccountName"] == "portal-job"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "3072Mi", "nvidia.com/gpu": "2"},
        "limits": {"memory": "3072Mi", "nvidia.com/gpu": "2"},
    }
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert container["env"] == [
        {"name": "PORTAL_URL", "value": "http://portal:8000"},
        {"name": "PORTAL_TOKEN", "valueFrom": {"secretKeyRef": {"name": "portal-job-tokens", "key": "campaign-12"}}},
        {
            "name": "JOB_INDEX",
            "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}
            },
        },
    ]
    labels = {"app.kubernetes.io/part-of": "portal", "campaign": "12", "app.kubernetes.io/managed-by": "portal-compute"}
    assert manifest["metadata"]["labels"] == labels
    assert spec["template"]["metadata"]["labels"] == labels
    assert manifest["metadata"]["annotations"] == {"compute.portal/spec-name": "Screen.Campaign_12.Shards"}


def test_job_names_are_dns_labels_unique_per_submit_and_short_enough_for_indexed_pods():
    names = {job_manifest(FULL, NAMESPACE)["metadata"]["name"] for _ in range(20)}
    long_name = job_manifest(JobSpec("A" * 128, IMAGE, ["x"]), NAMESPACE)["metadata"]["name"]

    assert len(names) == 20
    for name in [*names, long_name]:
        assert DNS_1123_LABEL.fullmatch(name), name
        assert len(f"{name}-9999") <= 63  # the hostname of pod 9999 of an Indexed Job
    assert all(name.startswith("screen-campaign-12-shards-") for name in names)


# -- the client against the fake API server --------------------------------------------------------


def submitted(fake, backend, spec: JobSpec) -> tuple[str, str]:
    handle = backend.submit(spec)
    return handle, handle.split("/", 1)[1]


def condition(kind: str, reason: str | None = None, message: str | None = None) -> dict:
    entry = {"type": kind, "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    return entry | ({"reason": reason, "message": message} if reason else {})


def test_submit_creates_the_manifest_in_the_namespace(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)

    handle, name = submitted(kubernetes_api, backend, FULL)

    assert handle == f"{NAMESPACE}/{name}"
    stored = kubernetes_api.job(NAMESPACE, name)
    expected = job_manifest(FULL, NAMESPACE, name=name)
    assert stored["spec"] == expected["spec"]
    assert stored["metadata"]["labels"] == expected["metadata"]["labels"]


@pytest.mark.parametrize(
    ("status", "state", "reason"),
    [
        ({}, JobState.PENDING, ""),
        ({"active": 1, "ready": 0}, JobState.PENDING, ""),
        ({"active": 1, "ready": 1}, JobState.RUNNING, ""),
        ({"succeeded": 1, "conditions": [condition("Complete")]}, JobState.SUCCEEDED, ""),
        (
            {"failed": 1, "conditions": [condition("Failed", "DeadlineExceeded", "Job was active longer than...")]},
            JobState.FAILED,
            "timed out after 3600s (DeadlineExceeded: Job was active longer than...)",
        ),
        (
            {"failed": 1, "conditions": [condition("FailureTarget", "BackoffLimitExceeded", "backoff limit")]},
            JobState.FAILED,
            "BackoffLimitExceeded: backoff limit",
        ),
    ],
    ids=["created", "pod-pending", "pod-ready", "complete", "deadline", "failure-target"],
)
def test_job_status_maps_onto_job_states(kubernetes_api, status, state, reason):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, JobSpec("trial", IMAGE, ["train"], timeout_seconds=3600))
    kubernetes_api.set_status(NAMESPACE, name, status)

    result = backend.status([handle])[handle]

    assert (result.state, result.reason) == (state, reason)


def test_a_failed_job_reports_its_container_exit_code_and_oom(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, PLAIN)
    kubernetes_api.add_pod(NAMESPACE, name, phase="Failed", exit_code=137, reason="OOMKilled")
    failed = condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    kubernetes_api.set_status(NAMESPACE, name, {"failed": 1, "conditions": [failed]})

    status = backend.status([handle])[handle]

    assert (status.state, status.exit_code) == (JobState.FAILED, 137)
    assert status.reason == "BackoffLimitExceeded: Job has reached the specified backoff limit: OOMKilled"


def test_indexed_job_children_come_from_its_indexes_and_pods(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, JobSpec("shards", IMAGE, ["score"], array_size=6))
    kubernetes_api.set_status(
        NAMESPACE,
        name,
        {"active": 2, "ready": 1, "succeeded": 3, "failed": 1, "completedIndexes": "0,2-3", "failedIndexes": "1"},
    )
    kubernetes_api.add_pod(NAMESPACE, name, index=4, phase="Running")
    kubernetes_api.add_pod(NAMESPACE, name, index=5, phase="Pending")

    status = backend.status([handle])[handle]

    assert status.state is JobState.RUNNING
    assert status.children == {
        0: JobState.SUCCEEDED,
        1: JobState.FAILED,
        2: JobState.SUCCEEDED,
        3: JobState.SUCCEEDED,
        4: JobState.RUNNING,
        5: JobState.PENDING,
    }

    kubernetes_api.set_status(
        NAMESPACE,
        name,
        {
            "failed": 1,
            "succeeded": 5,
            "completedIndexes": "0,2-5",
            "failedIndexes": "1",
            "conditions": [condition("Failed", "FailedIndexes", "Job has failed indexes")],
        },
    )
    status = backend.status([handle])[handle]
    assert (status.state, status.children_in(JobState.FAILED)) == (JobState.FAILED, [1])


def test_a_deleted_or_expired_job_is_lost(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, PLAIN)
    del kubernetes_api.jobs[(NAMESPACE, name)]  # as the TTL controller does once it has finished

    statuses = backend.status([handle, "not-a-handle"])

    assert statuses[handle].state is JobState.LOST
    assert statuses["not-a-handle"].state is JobState.LOST


def test_many_handles_are_read_with_one_list_call(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handles = [backend.submit(JobSpec(f"trial-{n}", IMAGE, ["train"])) for n in range(10)]
    before_lists = len(kubernetes_api.calls("GET", JOB_LIST))
    before_reads = len(kubernetes_api.calls("GET", ONE_JOB))

    statuses = backend.status([*handles, f"{NAMESPACE}/gone"])

    lists = kubernetes_api.calls("GET", JOB_LIST)[before_lists:]
    assert len(lists) == 1
    assert lists[0][1]["labelSelector"] == ["app.kubernetes.io/managed-by=portal-compute"]
    assert len(kubernetes_api.calls("GET", ONE_JOB)) == before_reads
    assert statuses[f"{NAMESPACE}/gone"].state is JobState.LOST
    assert {statuses[handle].state for handle in handles} == {JobState.PENDING}


def test_cancel_annotates_then_deletes_with_background_propagation(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, PLAIN)
    kubernetes_api.set_status(NAMESPACE, name, {"active": 1, "ready": 1})

    backend.cancel(handle, reason="experiment stopped")

    (patch,) = kubernetes_api.calls("PATCH")
    (delete,) = kubernetes_api.calls("DELETE")
    assert patch[0] == delete[0] == f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{name}"
    assert delete[1]["propagationPolicy"] == ["Background"]
    assert (NAMESPACE, name) not in kubernetes_api.jobs
    assert backend.status([handle])[handle].reason == "experiment stopped"

    backend.cancel(handle)  # idempotent: no further calls
    assert len(kubernetes_api.calls("DELETE")) == 1
    # Kubernetes forgot the Job: a backend that did not cancel it can only say it is gone.
    assert kubernetes_backend(kubernetes_api).status([handle])[handle].state is JobState.LOST


def test_a_job_being_deleted_after_a_cancel_reads_as_cancelled_anywhere(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, PLAIN)
    job = kubernetes_api.jobs[(NAMESPACE, name)]
    job["metadata"]["annotations"][CANCEL_ANNOTATION] = "stopped elsewhere"

    status = kubernetes_backend(kubernetes_api).status([handle])[handle]

    assert (status.state, status.reason) == (JobState.CANCELLED, "stopped elsewhere")


def test_cancelling_a_finished_job_leaves_it_alone(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, PLAIN)
    kubernetes_api.set_status(NAMESPACE, name, {"succeeded": 1, "conditions": [condition("Complete")]})

    backend.cancel(handle)
    backend.cancel(f"{NAMESPACE}/never-existed")

    assert kubernetes_api.calls("DELETE") == []
    assert backend.status([handle])[handle].state is JobState.SUCCEEDED


def test_logs_come_from_the_jobs_pods(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, JobSpec("shards", IMAGE, ["score"], array_size=2))
    kubernetes_api.add_pod(NAMESPACE, name, index=0, phase="Succeeded", exit_code=0, log="scored shard 0\n")
    kubernetes_api.add_pod(NAMESPACE, name, index=1, phase="Failed", exit_code=1, log="shard 1: bad input\n")

    assert backend.logs(handle, index=1) == "shard 1: bad input\n"
    assert backend.logs(handle) == "--- child 0 ---\nscored shard 0\n\n--- child 1 ---\nshard 1: bad input\n"
    assert backend.logs(handle, tail_bytes=6) == "input\n"
    (_, query), *_ = kubernetes_api.calls("GET", r"/pods$")
    assert query["labelSelector"] == [f"job-name={name}"]


def test_a_taken_job_name_is_drawn_again(kubernetes_api, monkeypatch):
    backend = kubernetes_backend(kubernetes_api)
    names = iter(["trial-taken", "trial-taken", "trial-free"])
    monkeypatch.setattr(kubernetes_jobs, "job_name", lambda spec_name: next(names))
    first = backend.submit(PLAIN)

    second = backend.submit(PLAIN)

    assert (first, second) == (f"{NAMESPACE}/trial-taken", f"{NAMESPACE}/trial-free")


def test_a_create_whose_answer_is_lost_is_read_back_not_made_twice(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api, create_pause_seconds=0.01)
    kubernetes_api.lose_answers("POST", r"/jobs$")

    handle = backend.submit(TRIAL)

    (post,) = kubernetes_api.calls("POST", r"/jobs$")  # created once, then read back by its name
    name = handle.split("/", 1)[1]
    assert [path for path, _ in kubernetes_api.calls("GET", r"/jobs/")] == [f"{post[0]}/{name}"]
    assert [job_name for namespace, job_name in kubernetes_api.jobs] == [name]
    # and what follows the create still happens: the Job's own Secret
    assert kubernetes_api.secret_values(NAMESPACE, f"{name}-env") == {"TRIAL_TOKEN": TRIAL_TOKEN}


def test_a_create_answered_5xx_is_read_back_and_tried_again_then_given_up(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api, create_pause_seconds=0.01)
    kubernetes_api.fail("POST", r"/jobs$", status=503)

    with pytest.raises(ApiException) as refused:
        backend.submit(PLAIN)

    assert refused.value.status == 503
    assert len(kubernetes_api.calls("POST", r"/jobs$")) == kubernetes_jobs.CREATE_ATTEMPTS
    assert len(kubernetes_api.calls("GET", r"/jobs/")) == kubernetes_jobs.CREATE_ATTEMPTS  # read back each time: none
    assert not kubernetes_api.jobs


# -- sensitive env: the value goes into a Secret owned by the Job ------------------------------------


def test_a_sensitive_variable_is_read_from_the_jobs_secret_and_never_written_into_the_job():
    manifest = job_manifest(TRIAL, NAMESPACE, name="trial-3-17-0a1b2c3d")
    (container,) = manifest["spec"]["template"]["spec"]["containers"]

    assert TRIAL_TOKEN not in json.dumps(manifest)
    assert container["env"] == [
        {"name": "PORTAL_URL", "value": "http://portal:8000"},  # not sensitive: stays plain
        {
            "name": "TRIAL_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "trial-3-17-0a1b2c3d-env", "key": "TRIAL_TOKEN"}},
        },
    ]


def test_the_env_secret_holds_the_values_and_is_owned_by_the_job():
    secret = env_secret_manifest(TRIAL, NAMESPACE, job_name="trial-3-17-0a1b2c3d", job_uid="5f0c-uid")

    assert (secret["apiVersion"], secret["kind"], secret["type"]) == ("v1", "Secret", "Opaque")
    assert secret["metadata"]["name"] == "trial-3-17-0a1b2c3d-env"
    assert secret["metadata"]["namespace"] == NAMESPACE
    assert secret["metadata"]["labels"] == job_manifest(TRIAL, NAMESPACE)["metadata"]["labels"]
    assert secret["stringData"] == {"TRIAL_TOKEN": TRIAL_TOKEN}  # only the sensitive variables
    assert secret["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "trial-3-17-0a1b2c3d",
            "uid": "5f0c-uid",
            "blockOwnerDeletion": True,
        }
    ]


def test_submit_creates_the_job_then_its_secret_owned_by_it(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)

    handle, name = submitted(kubernetes_api, backend, TRIAL)

    job = kubernetes_api.job(NAMESPACE, name)
    assert TRIAL_TOKEN not in json.dumps(job)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    token_ref = next(variable for variable in container["env"] if variable["name"] == "TRIAL_TOKEN")
    assert token_ref == {
        "name": "TRIAL_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": f"{name}-env", "key": "TRIAL_TOKEN"}},
    }
    secret = kubernetes_api.secret(NAMESPACE, f"{name}-env")
    assert kubernetes_api.secret_values(NAMESPACE, f"{name}-env") == {"TRIAL_TOKEN": TRIAL_TOKEN}
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"] == job["metadata"]["labels"]
    (owner,) = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Job", name, job["metadata"]["uid"])
    # The Job first: the Secret's owner reference needs the uid the API server gave it.
    posts = [path for path, _ in kubernetes_api.calls("POST")]
    assert posts == [f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs", f"/api/v1/namespaces/{NAMESPACE}/secrets"]
    assert backend.status([handle])[handle].state is JobState.PENDING


def test_a_job_without_sensitive_variables_gets_no_secret(kubernetes_api):
    submitted(kubernetes_api, kubernetes_backend(kubernetes_api), PLAIN)

    assert kubernetes_api.calls("POST", r"/secrets$") == []
    assert kubernetes_api.secrets == {}


def test_a_failed_secret_creation_deletes_the_job_and_raises(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    kubernetes_api.fail("POST", r"/secrets$", 403)  # e.g. the worker's Role lacks "create secrets"

    with pytest.raises(ApiException) as raised:
        backend.submit(TRIAL)

    assert raised.value.status == 403
    assert len(kubernetes_api.calls("POST", r"/jobs$")) == 1  # created, then taken back
    (delete,) = kubernetes_api.calls("DELETE")
    assert delete[0].startswith(f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/trial-3-17-")
    assert delete[1]["propagationPolicy"] == ["Background"]
    assert kubernetes_api.jobs == {}


def test_the_secret_goes_with_its_job_when_cancelled(kubernetes_api):
    backend = kubernetes_backend(kubernetes_api)
    handle, name = submitted(kubernetes_api, backend, TRIAL)
    kubernetes_api.set_status(NAMESPACE, name, {"active": 1, "ready": 1})

    backend.cancel(handle, reason="experiment stopped")

    # Kubernetes' garbage collector deletes the owned Secret; the backend deletes only the Job.
    assert (NAMESPACE, f"{name}-env") not in kubernetes_api.secrets
    assert kubernetes_api.calls("DELETE", r"/secrets/") == []
