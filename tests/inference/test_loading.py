"""Start-up: packages from a path, S3 (moto's server over real HTTP) and HTTPS, checksums verified
before anything is trusted, readiness only after loading and warming, failures reported with the reason,
configuration errors naming the variable."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests

from inference.config import ConfigError, settings_from_env
from tests.compute.conftest import CREDENTIALS, REGION, moto_server
from tests.processes import BIN, ROOT

from .servers import inference_server, model_entry, sha256_of

WRONG_SHA256 = "0" * 64


def still_not_ready(server, seconds: float = 3) -> dict:
    """The readiness answer, checked to stay 503 for a while (a failed model never becomes ready)."""
    deadline = time.monotonic() + seconds
    while True:
        response = requests.get(f"{server.url}/v2/health/ready", timeout=10)
        assert response.status_code == 503, response.text
        if time.monotonic() > deadline:
            return response.json()
        time.sleep(0.3)


def wait_until_failed(server, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(f"{server.url}/v1/models/{name}", timeout=10).json()["model_version_status"][0]
        if status["state"] == "END":
            return status
        time.sleep(0.2)
    raise AssertionError(f"{name} never failed")


def test_a_package_failing_its_checksum_never_becomes_ready(regression_archive, tmp_path):
    models = [model_entry("solubility", 1, regression_archive, sha256=WRONG_SHA256)]
    with inference_server(models, tmp_path, ready=False) as server:
        status = wait_until_failed(server, "solubility")
        assert status["status"]["error_code"] == "DATA_LOSS"
        assert "does not match its recorded checksum" in status["status"]["error_message"]
        body = still_not_ready(server)
        assert body["ready"] is False
        assert "solubility version 1 failed to load" in body["error"]
        model_ready = requests.get(f"{server.url}/v2/models/solubility/ready", timeout=10)
        assert model_ready.status_code == 503
        infer = requests.post(f"{server.url}/v1/models/solubility:predict", json={"instances": ["CCO"]}, timeout=10)
        assert infer.status_code == 503
        assert "checksum" in infer.json()["error"]
        assert requests.get(f"{server.url}/v2/health/live", timeout=10).status_code == 200
    assert not any((tmp_path / "cache").glob("*/package")), "a package that failed its checksum was kept"


def test_a_missing_package_reports_not_ready_with_the_reason(regression_archive, tmp_path):
    models = [
        model_entry("solubility", 1, regression_archive),
        # Its own checksum: a verified copy is found by checksum, and solubility's would be reused.
        model_entry("ghost", 1, regression_archive, uri=str(tmp_path / "nowhere.tar.gz"), sha256="1" * 64),
    ]
    with inference_server(models, tmp_path, ready=False) as server:
        status = wait_until_failed(server, "ghost")
        assert status["status"]["error_code"] == "NOT_FOUND"
        response = requests.get(f"{server.url}/v2/models/ghost/ready", timeout=10)
        assert response.status_code == 503
        assert response.json()["error"].endswith(f"{tmp_path / 'nowhere.tar.gz'} not found")
        assert "ghost version 1 failed to load" in still_not_ready(server)["error"]
        # The other model serves meanwhile.
        ok = requests.post(f"{server.url}/v1/models/solubility:predict", json={"instances": ["CCO"]}, timeout=30)
        assert ok.status_code == 200


def test_a_corrupt_archive_with_the_right_checksum_is_refused(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"this is not a gzip file")
    with inference_server([model_entry("bogus", 1, bogus)], tmp_path, ready=False) as server:
        status = wait_until_failed(server, "bogus")
        assert status["status"]["error_code"] == "FAILED_PRECONDITION"
        assert "bogus version 1" in status["status"]["error_message"]


@pytest.fixture(scope="module")
def moto_s3(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        client = boto3.session.Session().client("s3", endpoint_url=url, region_name=REGION, **CREDENTIALS)
        client.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": REGION})
        yield url, client


def test_packages_load_from_s3(moto_s3, regression_archive, regression_predictor, tmp_path):
    url, client = moto_s3
    client.upload_file(str(regression_archive), "models", "solubility/3/package.tar.gz")
    models = [
        model_entry("solubility", 3, regression_archive, uri="s3://models/solubility/3/package.tar.gz"),
        model_entry("absent", 1, regression_archive, uri="s3://models/absent/1/package.tar.gz", sha256="2" * 64),
    ]
    env = {
        "AWS_S3_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
    }  # fmt: skip
    with inference_server(models, tmp_path, env=env, ready=False) as server:
        status = wait_until_failed(server, "absent")
        assert status["status"]["error_message"] == "s3://models/absent/1/package.tar.gz not found (NoSuchKey)"
        deadline = time.monotonic() + 60
        while requests.get(f"{server.url}/v2/models/solubility/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, server.log_text()[-3000:]
            time.sleep(0.2)
        body = requests.post(f"{server.url}/v1/models/solubility:predict", json={"instances": ["CCO"]}, timeout=30)
        assert body.json()["predictions"][0]["value"] == regression_predictor.predict_all(["CCO"]).value[0]


def self_signed_certificate(folder) -> tuple[str, str]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_packages_load_from_https_with_the_certificate_checked(regression_archive, regression_predictor, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "model.tar.gz").write_bytes(regression_archive.read_bytes())
    cert, key = self_signed_certificate(tmp_path)
    handler = lambda *args: SimpleHTTPRequestHandler(*args, directory=str(site))  # noqa: E731
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"https://127.0.0.1:{httpd.server_port}"
    models = [
        model_entry("solubility", 1, regression_archive, uri=f"{base}/model.tar.gz"),
        model_entry("gone", 1, regression_archive, uri=f"{base}/gone.tar.gz", sha256="3" * 64),
    ]
    try:
        # The certificate is trusted only through SSL_CERT_FILE: verification really happens.
        with inference_server(models, tmp_path / "trusted", env={"SSL_CERT_FILE": cert}, ready=False) as server:
            assert wait_until_failed(server, "gone")["status"]["error_message"].endswith("answered 404 File not found")
            deadline = time.monotonic() + 60
            while requests.get(f"{server.url}/v2/models/solubility/ready", timeout=10).status_code != 200:
                assert time.monotonic() < deadline, server.log_text()[-3000:]
                time.sleep(0.2)
            body = requests.post(
                f"{server.url}/v1/models/solubility:predict", json={"instances": ["c1ccccc1"]}, timeout=30
            ).json()
            assert body["predictions"][0]["value"] == regression_predictor.predict_all(["c1ccccc1"]).value[0]
        with inference_server(models[:1], tmp_path / "untrusted", ready=False) as server:
            status = wait_until_failed(server, "solubility")
            assert "CERTIFICATE_VERIFY_FAILED" in status["status"]["error_message"]
    finally:
        httpd.shutdown()


def test_readiness_waits_for_loading_and_warming(regression_archive, tmp_path):
    """While its package is still downloading (from a server that takes 3 s to answer) the model is
    loading and the server not ready; it becomes ready once the package is verified, loaded and warmed."""
    payload = regression_archive.read_bytes()

    class SlowSource(SimpleHTTPRequestHandler):
        def do_GET(self):
            time.sleep(3)
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SlowSource)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    models = [model_entry("solubility", 1, regression_archive, uri=f"http://127.0.0.1:{httpd.server_port}/pkg")]
    try:
        with inference_server(models, tmp_path, ready=False) as server:
            response = requests.get(f"{server.url}/v2/health/ready", timeout=10)
            assert response.status_code == 503
            assert response.json()["error"] == "solubility version 1 is loading"
            model_ready = requests.get(f"{server.url}/v2/models/solubility/ready", timeout=10)
            assert model_ready.json() == {
                "name": "solubility", "ready": False, "error": "model solubility version 1 is still loading",
            }  # fmt: skip
            status = requests.get(f"{server.url}/v1/models/solubility", timeout=10).json()
            assert status["model_version_status"][0]["state"] == "LOADING"
            server.wait_ready()
            assert requests.get(f"{server.url}/v2/models/solubility/ready", timeout=10).json()["ready"] is True
            text = server.log_text()
            log = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
            assert any(entry["message"].startswith("loaded solubility version 1") for entry in log), text[-3000:]
    finally:
        httpd.shutdown()


MODELS_OK = json.dumps([{"name": "m", "version": 1, "uri": "/x.tar.gz", "sha256": "a" * 64}])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "INFERENCE_MODELS (JSON) or INFERENCE_MODELS_FILE (a JSON file) is required"),
        ({"INFERENCE_MODELS": "[{"}, "INFERENCE_MODELS is not valid JSON"),
        ({"INFERENCE_MODELS": "[]"}, "INFERENCE_MODELS must be a non-empty JSON list of models"),
        ({"INFERENCE_MODELS": '[{"name": "m", "version": 1, "uri": "/x"}]'}, "INFERENCE_MODELS[0] lacks 'sha256'"),
        (
            {"INFERENCE_MODELS": '[{"name": "m", "version": "3", "uri": "/x", "sha256": "' + "a" * 64 + '"}]'},
            "INFERENCE_MODELS[0].version must be a positive integer, not '3'",
        ),
        (
            {"INFERENCE_MODELS": MODELS_OK, "INFERENCE_MAX_BATCH_SIZE": "lots"},
            "INFERENCE_MAX_BATCH_SIZE must be an integer",
        ),
        ({"INFERENCE_MODELS": MODELS_OK, "INFERENCE_DYNAMIC_BATCHING": "maybe"}, "INFERENCE_DYNAMIC_BATCHING must be"),
        ({"INFERENCE_MODELS_FILE": "/no/such/file.json"}, "INFERENCE_MODELS_FILE: cannot read /no/such/file.json"),
        (
            {"INFERENCE_MODELS": MODELS_OK, "INFERENCE_REQUEST_TIMEOUT_SECONDS": "nan"},
            "INFERENCE_REQUEST_TIMEOUT_SECONDS must be at least",
        ),
    ],
)
def test_bad_configuration_names_the_variable(env, message):
    with pytest.raises(ConfigError) as caught:
        settings_from_env(env)
    assert message in str(caught.value)


def test_gunicorn_refuses_to_start_on_bad_configuration():
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCE_")}
    env["INFERENCE_MODELS"] = '[{"name": "m"}]'
    result = subprocess.run(
        [str(BIN / "gunicorn"), "-c", "inference/gunicorn.conf.py", "inference.wsgi:application"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "inference server configuration: INFERENCE_MODELS[0] lacks 'version'" in result.stderr


def test_models_file_is_read(regression_archive, tmp_path):
    path = tmp_path / "models.json"
    path.write_text(json.dumps([model_entry("solubility", 4, regression_archive, labels=["champion"])]))
    settings = settings_from_env({"INFERENCE_MODELS_FILE": str(path)})
    assert [(m.name, m.version, m.labels, m.sha256) for m in settings.models] == [
        ("solubility", 4, ("champion",), sha256_of(regression_archive))
    ]
    assert settings.max_batch_delay_seconds == 0  # batches form from what queued while the model ran
