"""TensorFlow Serving's REST API (tf_serving_api_rest.md) over real HTTP against gunicorn."""

from __future__ import annotations

import math

import pytest
import requests

SMILES = ["CCO", "c1ccccc1C(=O)O", "not-a-smiles", "CC(=O)Nc1ccc(O)cc1", ""]


def same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def test_status_lists_every_version_and_one_by_number_or_label(server):
    body = requests.get(f"{server.url}/v1/models/solubility", timeout=10).json()
    assert body == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
            {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        ]
    }
    one = requests.get(f"{server.url}/v1/models/solubility/versions/1", timeout=10).json()
    assert [s["version"] for s in one["model_version_status"]] == ["1"]
    labelled = requests.get(f"{server.url}/v1/models/solubility/labels/champion", timeout=10).json()
    assert [s["version"] for s in labelled["model_version_status"]] == ["2"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/models/half", "model 'half' is not served here"),
        ("/v1/models/solubility/versions/9", "has no version '9'"),
        ("/v1/models/solubility/labels/canary", "has no label 'canary'"),
        ("/v1/models/solubility/labels/canary/metadata", "has no label 'canary'"),
    ],
)
def test_unknown_models_versions_and_labels_are_404_with_a_message(server, path, message):
    response = requests.get(f"{server.url}{path}", timeout=10)
    assert response.status_code == 404
    assert message in response.json()["error"]


def test_metadata_describes_the_signature_and_the_package(server):
    body = requests.get(f"{server.url}/v1/models/solubility-class/labels/champion/metadata", timeout=10).json()
    assert body["model_spec"] == {"name": "solubility-class", "signature_name": "", "version": "1"}
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["smiles"]["dtype"] == "DT_STRING"
    assert set(signature["outputs"]) == {"value", "uncertainty", "probabilities", "error"}
    assert body["metadata"]["package"]["task"] == "classification"
    assert body["metadata"]["package"]["classes"] is not None


def test_row_predictions_match_the_in_process_predictor(server, regression_predictor):
    response = requests.post(f"{server.url}/v1/models/solubility:predict", json={"instances": SMILES}, timeout=30)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    expected = regression_predictor.predict_rows(SMILES)
    assert len(predictions) == len(SMILES)
    for got, want in zip(predictions, expected, strict=True):
        assert set(got) == {"value", "uncertainty", "error"}
        assert same(got["value"], want["value"])
        assert same(got["uncertainty"], want["uncertainty"])
        assert got["error"] == want["error"]
    assert predictions[2]["value"] is None
    assert "SMILES" in predictions[2]["error"]
    assert predictions[4]["error"] == "empty input"


def test_columnar_inputs_answer_outputs_by_name(server, classification_predictor):
    smiles = ["CCO", "c1ccccc1", "C1CC"]
    response = requests.post(
        f"{server.url}/v1/models/solubility-class/versions/1:predict", json={"inputs": {"smiles": smiles}}, timeout=30
    )
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    expected = classification_predictor.predict_rows(smiles)
    assert set(outputs) == {"value", "uncertainty", "probabilities", "error"}
    classes = [str(c) for c in classification_predictor.classes]
    for i, want in enumerate(expected):
        assert same(outputs["value"][i], want["value"])
        assert outputs["error"][i] == want["error"]
        if want["probabilities"] is None:
            assert outputs["probabilities"][i] is None
        else:
            assert outputs["probabilities"][i] == pytest.approx([want["probabilities"][c] for c in classes], rel=1e-12)
    plain = requests.post(f"{server.url}/v1/models/solubility-class:predict", json={"inputs": smiles}, timeout=30)
    assert plain.json()["outputs"] == outputs


def test_object_instances_are_accepted(server):
    response = requests.post(
        f"{server.url}/v1/models/solubility:predict", json={"instances": [{"smiles": "CCO"}]}, timeout=30
    )
    assert response.status_code == 200
    assert response.json()["predictions"][0]["error"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"instances": ["CCO"], "inputs": ["CCO"]}', "exactly one of them"),
        (b'{"instances": "CCO"}', "instances must be a list"),
        (b'{"instances": ["CCO", 12]}', "instances[1] must be a SMILES string, not a number"),
        (b'{"instances": [null]}', "instances[0] must be a SMILES string, not null"),
        (b'{"instances": [{"smile": "CCO"}]}', "instances[0] must be a SMILES string or"),
        (b'{"inputs": {"smiles": ["CCO", ["C"]]}}', "inputs.smiles[1] must be a SMILES string, not a list"),
        (b'{"inputs": {"x": ["CCO"]}}', 'inputs must name one tensor, "smiles"'),
        (b'{"instances": ["CCO"], "signature_name": "other"}', "unknown signature_name"),
        (b'{"instances": ["CCO"], "examples": []}', "unknown field(s) in the request: examples"),
    ],
)
def test_malformed_predict_requests_are_400_with_a_message(server, body, message):
    response = requests.post(
        f"{server.url}/v1/models/solubility:predict",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_too_many_smiles_is_400_naming_the_limit(server):
    response = requests.post(f"{server.url}/v1/models/solubility:predict", json={"instances": ["C"] * 1001}, timeout=30)
    assert response.status_code == 400
    assert "the limit is 1,000 per request" in response.json()["error"]


def test_a_10_mb_smiles_is_refused_with_413_and_a_message(server):
    response = requests.post(
        f"{server.url}/v1/models/solubility:predict", json={"instances": ["C" * 10_000_000]}, timeout=60
    )
    assert response.status_code == 413
    assert "larger than the limit of 4,194,304 bytes" in response.json()["error"]


def test_one_bad_molecule_never_fails_the_others(server, regression_predictor):
    huge = "C" * 300  # over the 150 heavy-atom bound, under the length bound
    smiles = ["CCO", huge, "C1CC", "c1ccccc1"]
    predictions = requests.post(
        f"{server.url}/v1/models/solubility:predict", json={"instances": smiles}, timeout=30
    ).json()["predictions"]
    assert predictions[1] == {
        "value": None,
        "uncertainty": None,
        "error": "too large: 300 heavy atoms (limit 150)",
    }
    assert predictions[2]["value"] is None
    assert predictions[2]["error"].startswith("standardisation failed")
    expected = regression_predictor.predict_rows(["CCO", "c1ccccc1"])
    assert same(predictions[0]["value"], expected[0]["value"])
    assert same(predictions[3]["value"], expected[1]["value"])


def test_classify_and_regress_say_why_they_are_not_served(server):
    response = requests.post(f"{server.url}/v1/models/solubility:regress", json={"examples": []}, timeout=10)
    assert response.status_code == 400
    assert ":predict only" in response.json()["error"]


def test_wrong_method_and_unknown_routes_answer_json(server):
    assert requests.post(f"{server.url}/v1/models/solubility/metadata", timeout=10).status_code == 404
    response = requests.get(f"{server.url}/nowhere", timeout=10)
    assert response.status_code == 404
    assert response.json() == {"error": "no such endpoint: GET /nowhere"}
