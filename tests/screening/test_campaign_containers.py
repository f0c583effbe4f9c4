"""Campaign shard jobs as container array jobs: a Kubernetes indexed Job (against the fake API server
in tests/compute, whose pods run as local processes, because no cluster can run here) and an AWS
Batch array job (against moto's server over real HTTP, which runs no containers: the children's
command is run by hand, as the containers would). The children run `python -m screening.campaigns.cli`."""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from rdkit import RDConfig

from compute import register_backend
from screening.campaigns import container_jobs, services
from screening.campaigns.services import ModelChoice
from screening.models import Campaign, CampaignShard
from tests.compute.conftest import NAMESPACE, create_job_queue, moto_server
from tests.compute.fake_kubernetes import FakeKubernetes
from tests.processes import ROOT, database_url

from .conftest import make_library

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
pytestmark = [pytest.mark.worker, pytest.mark.slow]


@contextlib.contextmanager
def backend_named(name: str, factory):
    """Point the campaign executor's backend at a test server, then restore the default."""
    default = {
        "batch": "compute.aws_batch:BatchBackend",
        "kubernetes": "compute.kubernetes_jobs:KubernetesBackend",
    }
    register_backend(name, factory)
    try:
        yield
    finally:
        register_backend(name, default[name])


def wait_for(campaign: Campaign, timeout: float = 120, reconcile: bool = False) -> Campaign:
    deadline = time.monotonic() + timeout
    while True:
        campaign.refresh_from_db()
        if campaign.status not in Campaign.ACTIVE:
            return campaign
        if reconcile:
            container_jobs.reconcile(campaign)
        assert time.monotonic() < deadline, f"campaign still {campaign.status}: {campaign.jobs}"
        time.sleep(0.3)


@pytest.fixture
def small_library(world, celery_worker_process):
    # Committed, so the session's worker ingests it (its own LIBRARY_SHARD_ROWS is the default).
    return make_library(world, NCI.read_bytes(), "nci.smi", by_worker=True, shard_rows=1700)


BATCH_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:portal"


KUBERNETES_SECRET = "portal-secrets"


def job_environment(settings, monkeypatch, secret_name: str):
    """What the job containers get: the test database by secret reference, storage by value."""
    settings.SCREENING_JOB_SECRETS = f"DATABASE_URL={secret_name}:DATABASE_URL"
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # `python` = this venv's
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    return {"DATABASE_URL": database_url(connection.settings_dict)}


def kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig for `server`, as `kubectl config` would write it."""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        f"clusters:\n- name: test\n  cluster:\n    server: {server}\n"
        "users:\n- name: tester\n  user:\n    token: test-token\n"
        "contexts:\n- name: test\n  context:\n    cluster: test\n    user: tester\n"
    )
    return path


def test_kubernetes_indexed_job_scores_every_shard(
    transactional_db, world, small_library, alpha_version, settings, monkeypatch, tmp_path
):
    from kubernetes.config import kube_config

    secrets = job_environment(settings, monkeypatch, KUBERNETES_SECRET)
    with FakeKubernetes(run_pods=True, secrets={(NAMESPACE, "portal-secrets"): secrets}) as cluster:
        # Configured as outside a cluster: the kubeconfig the client reads (KUBECONFIG at start-up).
        settings.KUBERNETES_IN_CLUSTER, settings.KUBERNETES_NAMESPACE = False, NAMESPACE
        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig(tmp_path / "kc", cluster.url)))
        campaign = services.campaign_create(
            team=world.alpha, name="k8s", library=small_library, user=world.users["amy"],
            models=[ModelChoice("solubility")], top_k=20, executor="kubernetes",
        )  # fmt: skip
        campaign = wait_for(campaign)
        job = cluster.job(NAMESPACE, campaign.jobs[0]["handle"].split("/")[-1])
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == small_library.shards.count() == 3
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:4] == ["python", "-m", "screening.campaigns.cli", "score-shard"]
    assert {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "portal-secrets", "key": "DATABASE_URL"}},
    } in [{k: v for k, v in e.items() if v is not None} for e in container["env"]]
    assert campaign.compounds == small_library.compounds == campaign.scored + campaign.failed
    assert campaign.hits.count() == 20


@pytest.fixture(scope="module")
def moto_urls(tmp_path_factory):
    with (
        moto_server(tmp_path_factory.mktemp("moto") / "ok.log") as ok,
        moto_server(tmp_path_factory.mktemp("moto") / "failing.log", env={"MOTO_SIMPLE_BATCH_FAIL_AFTER": "0"}) as bad,
    ):
        yield create_job_queue(ok), create_job_queue(bad)


def test_batch_array_job_children_run_the_shard_command(
    transactional_db, world, small_library, alpha_version, settings, monkeypatch, moto_urls
):
    secrets = job_environment(settings, monkeypatch, BATCH_SECRET)
    settings.AWS_BATCH_JOB_QUEUE = moto_urls[0].job_queue
    batch = moto_urls[0]
    with backend_named("batch", lambda **overrides: batch.backend()):
        campaign = services.campaign_create(
            team=world.alpha, name="batch", library=small_library, user=world.users["amy"],
            models=[ModelChoice("solubility")], top_k=20, executor="batch",
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not Campaign.objects.get(pk=campaign.pk).jobs:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        campaign.refresh_from_db()
        described = batch.client("batch").describe_jobs(jobs=[campaign.jobs[0]["handle"]])["jobs"][0]
        assert described["arrayProperties"]["size"] == 3
        command = described["container"]["command"]
        assert command[:4] == ["python", "-m", "screening.campaigns.cli", "score-shard"]
        definition = batch.client("batch").describe_job_definitions(jobDefinitions=[described["jobDefinition"]])
        secrets_given = definition["jobDefinitions"][0]["containerProperties"]["secrets"]
        assert secrets_given == [{"name": "DATABASE_URL", "valueFrom": f"{BATCH_SECRET}:DATABASE_URL::"}]
        # What each array child's container does (moto runs none): the same command, its index in the env.
        for index in range(3):
            env = {**os.environ, **secrets, "AWS_BATCH_JOB_ARRAY_INDEX": str(index)}
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
        campaign = wait_for(campaign, reconcile=True)
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    assert campaign.compounds == small_library.compounds


def test_batch_children_that_fail_are_resubmitted_then_fail_the_shard(
    transactional_db, world, small_library, alpha_version, settings, monkeypatch, moto_urls
):
    job_environment(settings, monkeypatch, BATCH_SECRET)
    settings.CAMPAIGN_SHARD_ATTEMPTS = 2
    failing = moto_urls[1]
    settings.AWS_BATCH_JOB_QUEUE = failing.job_queue
    with backend_named("batch", lambda **overrides: failing.backend()):
        campaign = services.campaign_create(
            team=world.alpha, name="batch-fails", library=small_library, user=world.users["amy"],
            models=[ModelChoice("solubility")], executor="batch",
        )  # fmt: skip
        campaign = wait_for(campaign, reconcile=True)
    assert campaign.status == Campaign.Status.FAILED
    assert len(campaign.jobs) == 2  # the first array job, then one resubmission of its failed children
    assert campaign.jobs[1]["shards"] == [0, 1, 2]
    assert "3 of 3 shards failed" in campaign.error
    assert all("2 jobs" in e for e in CampaignShard.objects.filter(campaign=campaign).values_list("error", flat=True))

    # Retrying gives the failed shards their attempts again (here they fail again, twice each).
    with backend_named("batch", lambda **overrides: failing.backend()):
        assert services.campaign_retry(campaign=campaign) == 3
        campaign = wait_for(campaign, reconcile=True)
    assert campaign.status == Campaign.Status.FAILED
    assert len(campaign.jobs) == 4
