"""Fixtures for the compute backends: real moto servers for AWS Batch, a fake Kubernetes API server,
and `harness`, which runs the shared contract suite against every backend."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from compute import ComputeBackend
from tests.processes import free_port

from .fake_kubernetes import FakeKubernetes

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
JOB_QUEUE = "portal-jobs"
NAMESPACE = "jobs"
SECRETS = {"portal-secrets": {"api-token": "s3cret-token"}}
MOTO_SERVER = Path(sys.executable).parent / "moto_server"


@dataclass
class MotoBatch:
    """A moto server over real HTTP with a Batch job queue ready to take jobs."""

    url: str
    job_queue: str
    clients: dict = field(default_factory=dict)

    def client(self, service: str):
        """One client per service (thread-safe, and slow to create)."""
        import boto3

        if service not in self.clients:
            session = boto3.session.Session()
            self.clients[service] = session.client(service, endpoint_url=self.url, region_name=REGION, **CREDENTIALS)
        return self.clients[service]

    def backend(self, **options):
        from compute.aws_batch import BatchBackend

        return BatchBackend(
            self.job_queue, client=self.client("batch"), logs_client=self.client("logs"), region_name=REGION, **options
        )


@contextlib.contextmanager
def moto_server(log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/moto-api/", timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not answer within 30 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        # Without a Docker engine Batch jobs would fail: run them as "simple" jobs instead.
        requests.post(f"{url}/moto-api/config", json={"batch": {"use_docker": False}}, timeout=10).raise_for_status()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def create_job_queue(url: str) -> MotoBatch:
    """The AWS side a real deployment has: service role, network, managed compute environment, queue."""
    batch = MotoBatch(url, JOB_QUEUE)
    iam, ec2, client = batch.client("iam"), batch.client("ec2"), batch.client("batch")
    trust = '{"Version": "2012-10-17", "Statement": []}'
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName="batch-instance")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="batch-instance", RoleName="batch-service")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="batch", Description="batch jobs", VpcId=vpc)["GroupId"]
    environment = client.create_compute_environment(
        computeEnvironmentName="portal-compute",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 64,
            "desiredvCpus": 0,
            "instanceTypes": ["optimal"],
            "subnets": [subnet],
            "securityGroupIds": [group],
            "instanceRole": profile,
        },
    )["computeEnvironmentArn"]
    client.create_job_queue(
        jobQueueName=JOB_QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )
    return batch


@pytest.fixture(scope="session")
def moto_batch(tmp_path_factory) -> Iterator[MotoBatch]:
    """Jobs succeed as soon as they are submitted (moto runs no containers)."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield create_job_queue(url)


@pytest.fixture(scope="session")
def moto_batch_failing(tmp_path_factory) -> Iterator[MotoBatch]:
    """Every job fails as soon as it is submitted."""
    log = tmp_path_factory.mktemp("moto-failing") / "moto.log"
    with moto_server(log, env={"MOTO_SIMPLE_BATCH_FAIL_AFTER": "0"}) as url:
        yield create_job_queue(url)


@pytest.fixture(scope="session")
def kubernetes_cluster() -> Iterator[FakeKubernetes]:
    """A fake API server whose pods really run (as local processes); see fake_kubernetes.py."""
    secrets = {(NAMESPACE, name): values for name, values in SECRETS.items()}
    with FakeKubernetes(run_pods=True, secrets=secrets) as fake:
        yield fake


@pytest.fixture
def kubernetes_api() -> Iterator[FakeKubernetes]:
    """A fake API server where nothing happens by itself: the test sets each Job's status."""
    with FakeKubernetes(run_pods=False) as fake:
        yield fake


def kubernetes_backend(fake: FakeKubernetes, **options):
    from kubernetes import client

    from compute.kubernetes_jobs import KubernetesBackend

    api_client = client.ApiClient(client.Configuration(host=fake.url))
    return KubernetesBackend(NAMESPACE, api_client=api_client, **options)


@dataclass
class Harness:
    """One backend as the contract suite sees it.

    `failing` is where a failing command fails: the same backend, except on moto, where only a server
    started with MOTO_SIMPLE_BATCH_FAIL_AFTER fails jobs. `runs_commands` is false for moto, which
    runs no command (so no exit codes, logs or timeouts) and finishes every job inside submit_job (so
    no job is ever running long enough to cancel)."""

    name: str
    backend: ComputeBackend
    failing: ComputeBackend
    unknown_handle: str
    runs_commands: bool


@pytest.fixture(params=["local", "batch", "kubernetes"])
def harness(request, tmp_path) -> Harness:
    if request.param == "local":
        from compute.local import LocalBackend

        backend = LocalBackend(tmp_path / "jobs", secrets=SECRETS, cancel_grace_seconds=2)
        return Harness("local", backend, backend, uuid.uuid4().hex, runs_commands=True)
    if request.param == "batch":
        ok, failing = request.getfixturevalue("moto_batch"), request.getfixturevalue("moto_batch_failing")
        return Harness("batch", ok.backend(), failing.backend(), str(uuid.uuid4()), runs_commands=False)
    backend = kubernetes_backend(request.getfixturevalue("kubernetes_cluster"))
    return Harness("kubernetes", backend, backend, f"{NAMESPACE}/no-such-job", runs_commands=True)


@pytest.fixture(scope="session")
def kubernetes_validate():
    from tests.deploy import tooling

    try:
        import kubernetes_validate
    except ImportError:
        tooling.require("kubernetes-validate", None)
    return kubernetes_validate
