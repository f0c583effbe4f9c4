"""The Open Inference Protocol (KServe v2) over real HTTP: NVIDIA's tritonclient (JSON and the binary
tensor extension) and plain requests, checked against the in-process predictor.

The `kserve` package's REST client is not used: installing it downgrades pandas (3.1 → 2.3) and
psutil below what the project pins, so tritonclient and requests speak the protocol here."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

SMILES = ["CCO", "c1ccccc1C(=O)O", "not-a-smiles", "CC(=O)Nc1ccc(O)cc1", ""]


def expected_arrays(predictor, smiles):
    batch = predictor.predict_all(smiles)
    errors = [e or "" for e in batch.errors]
    return batch, errors


@pytest.fixture(scope="module")
def client(server):
    client = triton.InferenceServerClient(server.url.removeprefix("http://"), connection_timeout=30, network_timeout=60)
    yield client
    client.close()


def test_server_metadata_and_health(server, client):
    assert client.is_server_live()
    assert client.is_server_ready()
    metadata = client.get_server_metadata()
    assert metadata["name"] == "chemcore-inference"
    assert "binary_tensor_data" in metadata["extensions"]
    assert requests.get(f"{server.url}/v2/health/ready", timeout=10).json() == {"ready": True}


def test_model_metadata_describes_the_tensors(client, classification_predictor):
    metadata = client.get_model_metadata("solubility-class")
    assert metadata["name"] == "solubility-class"
    assert metadata["versions"] == ["1"]
    assert metadata["inputs"] == [{"name": "smiles", "datatype": "BYTES", "shape": [-1]}]
    names = [(o["name"], o["datatype"]) for o in metadata["outputs"]]
    assert names == [("value", "FP64"), ("uncertainty", "FP64"), ("probabilities", "FP64"), ("error", "BYTES")]
    assert metadata["outputs"][2]["shape"] == [-1, len(classification_predictor.classes)]
    assert json.loads(metadata["parameters"]["classes"]) == classification_predictor.classes
    regression = client.get_model_metadata("solubility", model_version="1")
    assert [o["name"] for o in regression["outputs"]] == ["value", "uncertainty", "error"]
    assert regression["versions"] == ["1", "2"]


def test_model_readiness_by_version_and_label(server, client):
    assert client.is_model_ready("solubility")
    assert client.is_model_ready("solubility", "2")
    assert requests.get(f"{server.url}/v2/models/solubility/versions/champion/ready", timeout=10).json() == {
        "name": "solubility",
        "ready": True,
    }
    missing = requests.get(f"{server.url}/v2/models/solubility/versions/7/ready", timeout=10)
    assert missing.status_code == 404
    assert "has no version '7'" in missing.json()["error"]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_gets_the_in_process_predictions(client, regression_predictor, binary):
    smiles = np.array(SMILES, dtype=object)
    inputs = [triton.InferInput("smiles", [len(SMILES)], "BYTES")]
    inputs[0].set_data_from_numpy(smiles, binary_data=binary)
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("value", "uncertainty", "error")]
    result = client.infer("solubility", inputs, model_version="2", outputs=outputs, request_id="r-42")
    assert result.get_response()["model_name"] == "solubility"
    assert result.get_response()["model_version"] == "2"
    assert result.get_response()["id"] == "r-42"
    batch, errors = expected_arrays(regression_predictor, SMILES)
    np.testing.assert_array_equal(result.as_numpy("value"), batch.value)
    np.testing.assert_array_equal(result.as_numpy("uncertainty"), batch.uncertainty)
    assert [e.decode() if isinstance(e, bytes) else e for e in result.as_numpy("error")] == errors


def test_tritonclient_default_outputs_are_binary_and_complete(client, classification_predictor):
    """With no outputs named, tritonclient asks for every output in binary (`binary_data_output`)."""
    smiles = ["CCO", "c1ccccc1", "C1CC"]
    inputs = [triton.InferInput("smiles", [3, 1], "BYTES")]
    inputs[0].set_data_from_numpy(np.array(smiles, dtype=object).reshape(3, 1))
    result = client.infer("solubility-class", inputs)
    batch, errors = expected_arrays(classification_predictor, smiles)
    np.testing.assert_array_equal(result.as_numpy("value"), batch.value)
    probabilities = result.as_numpy("probabilities").reshape(3, -1)
    np.testing.assert_array_equal(probabilities, batch.probabilities)
    assert [e.decode() for e in result.as_numpy("error")] == errors


def test_json_infer_with_plain_requests(server, regression_predictor):
    body = {"id": "7", "inputs": [{"name": "smiles", "shape": [2], "datatype": "BYTES", "data": ["CCO", "C1CC"]}]}
    response = requests.post(f"{server.url}/v2/models/solubility/infer", json=body, timeout=30)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["id"] == "7"
    assert payload["model_version"] == "2"  # the latest version when none is named
    outputs = {o["name"]: o for o in payload["outputs"]}
    batch, errors = expected_arrays(regression_predictor, ["CCO", "C1CC"])
    assert outputs["value"]["data"] == [batch.value[0], None]
    assert outputs["value"]["shape"] == [2]
    assert outputs["error"]["data"] == errors


def test_binary_request_bytes_are_parsed_as_the_extension_says(server, regression_predictor):
    """A hand-built binary request: JSON header, then each element as a 4-byte little-endian length and bytes."""
    smiles = ["CCO", "c1ccccc1"]
    blob = b"".join(struct.pack("<I", len(s)) + s.encode() for s in smiles)
    header = json.dumps(
        {
            "inputs": [
                {"name": "smiles", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": len(blob)}}
            ],
            "outputs": [{"name": "value", "parameters": {"binary_data": True}}],
        }
    ).encode()
    response = requests.post(
        f"{server.url}/v2/models/solubility/versions/1/infer",
        data=header + blob,
        headers={"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    length = int(response.headers["Inference-Header-Content-Length"])
    head = json.loads(response.content[:length])
    assert head["outputs"] == [
        {"name": "value", "datatype": "FP64", "shape": [2], "parameters": {"binary_data_size": 16}}
    ]
    values = np.frombuffer(response.content[length:], dtype="<f8")
    np.testing.assert_array_equal(values, regression_predictor.predict_all(smiles).value)


def infer_error(server, body, *, model="solubility", headers=None, data=None):
    response = requests.post(
        f"{server.url}/v2/models/{model}/infer",
        data=data if data is not None else json.dumps(body),
        headers=headers or {"Content-Type": "application/json"},
        timeout=30,
    )
    return response.status_code, response.json()["error"]


def tensor(**fields):
    base = {"name": "smiles", "shape": [1], "datatype": "BYTES", "data": ["CCO"]}
    base.update(fields)
    return {"inputs": [base]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "inputs must be a list holding one tensor"),
        (tensor(name="x"), "unknown input 'x'"),
        (tensor(datatype="FP32"), "must have datatype BYTES"),
        (tensor(shape=[2, 3], data=["C"] * 6), "must have shape [n] or [n, 1]"),
        (tensor(shape=[3]), "has shape [3] (3 elements) but 1 data elements"),
        (tensor(shape=[-1]), "must have shape [n] or [n, 1]"),
        (tensor(data=[5]), "element 0 must be a SMILES string, not int"),
        (tensor(data=[None]), "element 0 must be a SMILES string, not NoneType"),
        (tensor(data="CCO"), "data must be a list"),
        ({**tensor(), "outputs": [{"name": "logits"}]}, "unknown output 'logits'"),
        ({"inputs": [tensor()["inputs"][0], tensor()["inputs"][0]]}, "takes one input tensor"),
        (tensor(shape=[1001], data=["C"] * 1001), "the limit is 1,000 per request"),
    ],
)
def test_malformed_infer_requests_are_400_with_a_message(server, body, message):
    status, error = infer_error(server, body)
    assert status == 400
    assert message in error


def test_malformed_json_and_binary_framing_are_400(server):
    assert infer_error(server, None, data=b'{"inputs": [')[0] == 400
    status, error = infer_error(
        server, None, data=b'{"inputs": []}', headers={"Inference-Header-Content-Length": "999"}
    )
    assert (status, "the body holds 14 bytes" in error) == (400, True)
    header = json.dumps(tensor(data=None) | {}).encode()
    body = {"inputs": [{"name": "smiles", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 8}}]}
    header = json.dumps(body).encode()
    status, error = infer_error(
        server, None, data=header + struct.pack("<I", 50) + b"CCOC",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )  # fmt: skip
    assert status == 400
    assert "claims 50 bytes" in error


def test_unknown_model_is_404_and_errors_reach_tritonclient(client):
    inputs = [triton.InferInput("smiles", [1], "BYTES")]
    inputs[0].set_data_from_numpy(np.array(["CCO"], dtype=object))
    with pytest.raises(InferenceServerException, match="not served here"):
        client.infer("no-such-model", inputs)
