"""Job specs refuse bad values naming the field; array indexes come from any backend's variable;
backends are found by name and configured from settings."""

from __future__ import annotations

import dataclasses

import pytest

from compute import (
    ComputeBackend,
    JobSpec,
    JobState,
    JobStatus,
    Resources,
    SecretRef,
    array_index_from_env,
    backend_names,
    get_backend,
    register_backend,
    registry,
)
from compute.base import parse_index_ranges, setting

IMAGE = "trainer:1.0"


def spec(**changes) -> JobSpec:
    return JobSpec(**({"name": "trial-1", "image": IMAGE, "command": ["train", "--trial", "1"]} | changes))


def test_a_valid_spec_is_frozen_and_keeps_its_command_as_a_tuple():
    job = spec(env={"A": "1"}, resources=Resources(vcpu=0.5, memory_mib=512, gpu=1), array_size=4, timeout_seconds=60)

    assert job.command == ("train", "--trial", "1")
    assert job.is_array
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.name = "other"


def test_sensitive_env_defaults_to_none_and_is_kept_as_a_frozenset():
    assert spec().sensitive_env == frozenset()
    assert spec(env={"TOKEN": "x", "URL": "y"}, sensitive_env=["TOKEN"]).sensitive_env == frozenset({"TOKEN"})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "JobSpec.name"),
        ({"name": "has space"}, "JobSpec.name"),
        ({"name": "-leading-dash"}, "JobSpec.name"),
        ({"name": "x" * 129}, "JobSpec.name"),
        ({"image": ""}, "JobSpec.image"),
        ({"image": "two words"}, "JobSpec.image"),
        ({"command": "train --trial 1"}, "JobSpec.command"),
        ({"command": []}, "JobSpec.command"),
        ({"command": ["train", 1]}, "JobSpec.command"),
        ({"env": {"1BAD": "x"}}, "JobSpec.env"),
        ({"env": {"GOOD": 1}}, "JobSpec.env"),
        ({"secret_env": {"TOKEN": ("secret", "key")}}, "JobSpec.secret_env"),
        ({"env": {"TOKEN": "x"}, "secret_env": {"TOKEN": SecretRef("s", "k")}}, "JobSpec.env and JobSpec.secret_env"),
        ({"array_size": 0}, "JobSpec.array_size"),
        ({"array_size": 10_001}, "JobSpec.array_size"),
        ({"array_size": True}, "JobSpec.array_size"),
        ({"array_size": 2, "env": {"JOB_INDEX": "5"}}, "JobSpec.env must not set JOB_INDEX"),
        ({"timeout_seconds": 0}, "JobSpec.timeout_seconds"),
        ({"timeout_seconds": "60"}, "JobSpec.timeout_seconds"),
        ({"labels": {"bad key!": "x"}}, "JobSpec.labels"),
        ({"labels": {"Example.COM/team": "x"}}, "JobSpec.labels"),
        ({"labels": {"team": "x" * 64}}, "JobSpec.labels"),
        ({"resources": {"vcpu": 1}}, "JobSpec.resources"),
        ({"env": {"PORTAL_URL": "x"}, "sensitive_env": frozenset({"TRIAL_TOKEN"})}, "JobSpec.sensitive_env"),
        ({"secret_env": {"TOKEN": SecretRef("s", "k")}, "sensitive_env": {"TOKEN"}}, "JobSpec.sensitive_env"),
        ({"env": {"TOKEN": "x"}, "sensitive_env": "TOKEN"}, "JobSpec.sensitive_env"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        spec(**changes)


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ({"vcpu": 0}, "Resources.vcpu"),
        ({"vcpu": "2"}, "Resources.vcpu"),
        ({"memory_mib": 1.5}, "Resources.memory_mib"),
        ({"memory_mib": 0}, "Resources.memory_mib"),
        ({"gpu": -1}, "Resources.gpu"),
    ],
)
def test_bad_resources_are_refused_naming_the_field(resources, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        Resources(**resources)


def test_a_secret_reference_needs_a_name_and_a_key():
    with pytest.raises(ValueError, match=r"SecretRef\.key"):
        SecretRef("portal-secrets", "")


def test_labels_in_kubernetes_syntax_are_accepted():
    job = spec(labels={"app.kubernetes.io/part-of": "portal", "experiment": "exp-12", "empty": ""})

    assert job.labels["experiment"] == "exp-12"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"JOB_INDEX": "3"}, 3),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": "7"}, 7),
        ({"JOB_COMPLETION_INDEX": "11"}, 11),
        ({"JOB_INDEX": "2", "JOB_COMPLETION_INDEX": "2"}, 2),
        ({"JOB_INDEX": ""}, None),
    ],
)
def test_the_array_index_comes_from_whichever_variable_the_backend_sets(environ, expected):
    assert array_index_from_env(environ) == expected


def test_a_malformed_array_index_is_an_error_naming_the_variable():
    with pytest.raises(ValueError, match="AWS_BATCH_JOB_ARRAY_INDEX='x'"):
        array_index_from_env({"AWS_BATCH_JOB_ARRAY_INDEX": "x"})


def test_terminal_states_and_child_lookup():
    assert not JobState.PENDING.terminal
    assert not JobState.RUNNING.terminal
    assert all(state.terminal for state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.LOST))
    status = JobStatus(JobState.FAILED, children={0: JobState.SUCCEEDED, 1: JobState.FAILED, 2: JobState.LOST})
    assert status.children_in(JobState.FAILED, JobState.LOST) == [1, 2]


def test_kubernetes_index_ranges_are_expanded():
    assert parse_index_ranges("1,3-5,7") == {1, 3, 4, 5, 7}
    assert parse_index_ranges("") == set()
    assert parse_index_ranges(None) == set()


def test_the_three_backends_are_registered_by_name():
    assert {"local", "batch", "kubernetes"} <= set(backend_names())


def test_an_unknown_backend_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown compute backend 'slurm'.*kubernetes"):
        get_backend("slurm")


def test_a_registered_factory_gets_the_overrides(monkeypatch):
    monkeypatch.setattr(registry, "_factories", dict(registry._factories))

    class Recording(ComputeBackend):
        name = "recording"

        def __init__(self, **options):
            self.options = options

        @classmethod
        def from_settings(cls, **overrides):
            return cls(**overrides)

        def submit(self, spec):
            return "h"

        def status(self, handles):
            return {handle: JobStatus(JobState.SUCCEEDED) for handle in handles}

        def cancel(self, handle, reason=""):
            pass

        def logs(self, handle, tail_bytes=1, *, index=None):
            return ""

    register_backend("recording", Recording.from_settings)
    backend = get_backend("recording", queue="fast")

    assert isinstance(backend, Recording)
    assert backend.options == {"queue": "fast"}
    assert backend.wait(["a", "b"], timeout=1)["b"].state is JobState.SUCCEEDED


def test_a_factory_must_be_callable_or_a_dotted_path():
    with pytest.raises(ValueError, match="must be callable"):
        register_backend("broken", 42)


def test_backends_are_configured_from_settings(settings, tmp_path):
    settings.COMPUTE_LOCAL_DIR = tmp_path / "jobs"
    settings.COMPUTE_LOCAL_PARALLELISM = 3
    settings.KUBERNETES_NAMESPACE = "portal-jobs"
    settings.KUBERNETES_IN_CLUSTER = False
    settings.KUBERNETES_JOB_TTL_SECONDS = 600
    settings.KUBERNETES_SERVICE_ACCOUNT = "trainer"
    settings.AWS_BATCH_JOB_QUEUE = "gpu-queue"
    settings.AWS_BATCH_ENDPOINT_URL = "http://127.0.0.1:1"
    settings.AWS_DEFAULT_REGION = "eu-west-1"

    local = get_backend("local")
    kubernetes = get_backend("kubernetes")
    batch = get_backend("batch")

    assert (local.root, local.array_parallelism) == (tmp_path / "jobs", 3)
    assert (tmp_path / "jobs").is_dir()
    assert (kubernetes.namespace, kubernetes.ttl_seconds_after_finished) == ("portal-jobs", 600)
    assert (kubernetes.service_account, kubernetes.in_cluster) == ("trainer", False)
    assert (batch.job_queue, batch.endpoint_url, batch.region_name) == ("gpu-queue", "http://127.0.0.1:1", "eu-west-1")
    assert get_backend("local", array_parallelism=1).array_parallelism == 1


def test_batch_without_a_queue_says_which_setting_is_missing(settings):
    settings.AWS_BATCH_JOB_QUEUE = ""

    with pytest.raises(ValueError, match="AWS_BATCH_JOB_QUEUE"):
        get_backend("batch")


def test_a_setting_not_defined_falls_back_to_the_default(settings):
    del settings.COMPUTE_LOCAL_PARALLELISM

    assert setting("COMPUTE_LOCAL_PARALLELISM", 2) == 2
    assert setting("NO_SUCH_SETTING", "fallback") == "fallback"
