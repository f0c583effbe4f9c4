"""A Batch submit creates at most one job when the network fails mid-call: boto3 talks to the moto
server through a small HTTP proxy (real sockets both ways) that loses SubmitJob answers, drops
requests, answers 5xx or throttles, as a flaky network or an overloaded Batch would."""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from compute import JobSpec
from compute.aws_batch import BatchBackend
from compute.aws_batch_submit import NO_RETRIES, SUBMIT_ATTEMPTS

from .conftest import CREDENTIALS, REGION

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer:1.0"
SUBMIT_PATH = "/v1/submitjob"

# What the proxy does with a SubmitJob request:
FORWARD = "forward"  # pass it on and return Batch's answer
LOSE_ANSWER = "lose answer"  # pass it on (the job is created), then close the connection unanswered
DROP = "drop"  # close the connection without passing it on (no job)
SERVER_ERROR = "5xx after creating"  # pass it on, then answer 503
THROTTLE = "throttle"  # answer 400 ThrottlingException without passing it on


class FaultyProxy:
    """Forwards every request to `target`; SubmitJob requests meet the faults queued in `plan`."""

    def __init__(self, target: str) -> None:
        self.target = urlsplit(target)
        self.plan: list[str] = []
        self.seen: list[str] = []  # what happened to each SubmitJob, in order
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self._relay()

            def do_GET(self) -> None:
                self._relay()

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = FORWARD
                if self.path.startswith(SUBMIT_PATH):
                    fault = proxy.plan.pop(0) if proxy.plan else FORWARD
                    proxy.seen.append(fault)
                if fault in (DROP, THROTTLE):
                    if fault == THROTTLE:
                        self._answer(400, b'{"__type": "ThrottlingException", "message": "Rate exceeded"}')
                    self.close_connection = True
                    return
                status, answer = proxy.forward(self.command, self.path, dict(self.headers), body)
                if fault == LOSE_ANSWER:
                    self.close_connection = True
                    return
                if fault == SERVER_ERROR:
                    status, answer = 503, b'{"__type": "ServerException", "message": "try later"}'
                self._answer(status, answer)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def forward(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[FaultyProxy]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def proxy(moto_batch) -> Iterator[FaultyProxy]:
    with FaultyProxy(moto_batch.url).running() as running:
        yield running


@pytest.fixture
def backend(moto_batch, proxy) -> BatchBackend:
    """Submits through the proxy with one attempt per call, as the backend's own submit client does;
    everything else (and the look-up) goes to moto directly."""
    import boto3

    submit_client = boto3.session.Session().client(
        "batch", endpoint_url=proxy.url, region_name=REGION, config=Config(retries=NO_RETRIES), **CREDENTIALS
    )
    return BatchBackend(
        moto_batch.job_queue,
        client=moto_batch.client("batch"),
        logs_client=moto_batch.client("logs"),
        submit_client=submit_client,
        submit_pause_seconds=0.01,
    )


def jobs_named(moto_batch, prefix: str) -> list[dict]:
    found = moto_batch.client("batch").list_jobs(
        jobQueue=moto_batch.job_queue, filters=[{"name": "JOB_NAME", "values": [f"{prefix}*"]}]
    )
    return found["jobSummaryList"]


def submit(backend: BatchBackend, name: str) -> str:
    return backend.submit(JobSpec(name=name, image=IMAGE, command=["train"]))


def test_a_lost_answer_finds_the_job_it_created_and_submits_nothing_more(moto_batch, proxy, backend):
    proxy.plan = [LOSE_ANSWER]

    handle = submit(backend, "lost-answer")

    assert proxy.seen == [LOSE_ANSWER]  # not sent again
    (job,) = jobs_named(moto_batch, "lost-answer-")
    assert job["jobId"] == handle


def test_a_5xx_after_the_job_was_created_finds_it(moto_batch, proxy, backend):
    proxy.plan = [SERVER_ERROR]

    handle = submit(backend, "server-error")

    assert proxy.seen == [SERVER_ERROR]
    (job,) = jobs_named(moto_batch, "server-error-")
    assert job["jobId"] == handle


def test_a_dropped_request_is_sent_again_and_makes_one_job(moto_batch, proxy, backend):
    proxy.plan = [DROP, DROP]

    handle = submit(backend, "dropped")

    assert proxy.seen == [DROP, DROP, FORWARD]
    (job,) = jobs_named(moto_batch, "dropped-")
    assert job["jobId"] == handle


def test_throttling_is_waited_out(moto_batch, proxy, backend):
    proxy.plan = [THROTTLE]

    handle = submit(backend, "throttled")

    assert proxy.seen == [THROTTLE, FORWARD]
    (job,) = jobs_named(moto_batch, "throttled-")
    assert job["jobId"] == handle


def test_a_request_batch_refuses_is_not_tried_again(moto_batch, proxy, backend):
    refusing = BatchBackend(
        "no-such-queue",
        client=moto_batch.client("batch"),
        submit_client=backend.submit_client,
        submit_pause_seconds=0.01,
    )

    with pytest.raises(ClientError):
        submit(refusing, "refused")

    assert proxy.seen == [FORWARD]


def test_a_network_that_keeps_failing_gives_up_with_no_job(moto_batch, proxy, backend):
    proxy.plan = [DROP] * SUBMIT_ATTEMPTS

    with pytest.raises(ConnectionClosedError):
        submit(backend, "gone")

    assert proxy.seen == [DROP] * SUBMIT_ATTEMPTS
    assert jobs_named(moto_batch, "gone-") == []


def test_each_submission_has_a_name_of_its_own(moto_batch, backend):
    first, second = submit(backend, "twice"), submit(backend, "twice")

    names = {job["jobId"]: job["jobName"] for job in jobs_named(moto_batch, "twice-")}
    assert set(names) == {first, second}
    assert len(set(names.values())) == 2


def test_the_backends_own_submit_client_makes_one_attempt_per_call(moto_batch, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    made = BatchBackend(moto_batch.job_queue, region_name=REGION, endpoint_url=moto_batch.url)

    assert made.submit_client.meta.config.retries == NO_RETRIES
    assert made.client.meta.config.retries["total_max_attempts"] > 1  # every other call retries as usual
