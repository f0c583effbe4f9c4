"""TensorFlow Serving's REST API (specs: tf_serving_api_rest.md): model status, metadata and
`:predict` with row (`instances`) or columnar (`inputs`) SMILES.

    GET  /v1/models/<name>[/versions/<v>|/labels/<label>]            status of its versions
    GET  /v1/models/<name>[/versions/<v>|/labels/<label>]/metadata   signature and package description
    POST /v1/models/<name>[/versions/<v>|/labels/<label>]:predict    {"instances": [...]} or {"inputs": ...}
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, g

from .errors import BadRequest, NotFound
from .http_io import json_body, response
from .outputs import INPUT_NAME, describe, output_names
from .repository import AVAILABLE, LOADING, ServedModel
from .scoring import number_list, score

blueprint = Blueprint("tfserving", __name__)

_PATH = re.compile(
    r"^(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<tail>/metadata|:[A-Za-z]+)?$"
)
_STATES = {AVAILABLE: "AVAILABLE", LOADING: "LOADING"}


def _resolve(rest: str) -> tuple[dict[str, str | None], str | None]:
    match = _PATH.match(rest)
    if not match:
        raise NotFound(f"no such endpoint: /v1/models/{rest}")
    return match.groupdict(), match.group("tail")


@blueprint.get("/v1/models/<path:rest>")
def get_model(rest: str):
    parts, tail = _resolve(rest)
    repository = current_app.extensions["inference"].repository
    g.model = parts["name"]
    if tail is None:
        versions = repository.versions_of(parts["name"])
        if parts["version"] is not None or parts["label"] is not None:
            versions = [repository.find(parts["name"], parts["version"], parts["label"])]
        return response({"model_version_status": [_status(model) for model in versions]})
    if tail != "/metadata":
        raise BadRequest(f"{tail} is answered to POST, not GET")
    model = repository.find(parts["name"], parts["version"], parts["label"])
    model.require_available()
    return response(_metadata(model))


@blueprint.post("/v1/models/<path:rest>")
def post_model(rest: str):
    parts, tail = _resolve(rest)
    g.model = parts["name"]
    server = current_app.extensions["inference"]
    if tail in {":classify", ":regress"}:
        raise BadRequest(f"this server answers :predict only ({tail} needs tf.Example inputs, which SMILES are not)")
    if tail != ":predict":
        raise NotFound(f"no such endpoint: POST /v1/models/{rest}")
    model = server.repository.find(parts["name"], parts["version"], parts["label"])
    model.require_available()
    body = json_body()
    smiles, columnar = _smiles_of(body, server.settings.max_molecules)
    result = score(model, smiles, settings=server.settings, deadline=g.deadline)
    names = output_names(model)
    columns = _columns(result, names)
    if columnar:
        return response({"outputs": columns})
    rows = [{name: columns[name][i] for name in names} for i in range(len(smiles))]
    return response({"predictions": rows})


def _status(model: ServedModel) -> dict[str, Any]:
    if model.state in _STATES:
        return {
            "version": model.version,
            "state": _STATES[model.state],
            "status": {"error_code": "OK", "error_message": ""},
        }
    return {
        "version": model.version,
        "state": "END",
        "status": {"error_code": model.error_code, "error_message": model.reason},
    }


def _tensor(dtype: str, dims: list[int]) -> dict[str, Any]:
    return {
        "dtype": dtype,
        "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False},
    }


def _metadata(model: ServedModel) -> dict[str, Any]:
    n_classes = model.predictor.n_classes if model.predictor is not None else None
    shapes = {"value": [-1], "uncertainty": [-1], "probabilities": [-1, n_classes or 0], "error": [-1]}
    outputs = {
        name: {**_tensor("DT_STRING" if name == "error" else "DT_DOUBLE", shapes[name]), "name": name}
        for name in output_names(model)
    }
    signature = {
        "inputs": {INPUT_NAME: {**_tensor("DT_STRING", [-1]), "name": INPUT_NAME}},
        "outputs": outputs,
        "method_name": "tensorflow/serving/predict",
    }
    return {
        "model_spec": {"name": model.name, "signature_name": "", "version": model.version},
        "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}, "package": describe(model)},
    }


def _smiles_of(body: dict[str, Any], limit: int) -> tuple[list[str], bool]:
    """(SMILES, columnar?) from a predict body; 400 naming the field for anything else."""
    signature = body.get("signature_name", "serving_default")
    if signature not in {"", "serving_default"}:
        raise BadRequest(f"unknown signature_name {signature!r}; this model has serving_default only")
    unknown = sorted(set(body) - {"signature_name", "instances", "inputs"})
    if unknown:
        raise BadRequest(f"unknown field(s) in the request: {', '.join(unknown)}")
    if ("instances" in body) == ("inputs" in body):
        raise BadRequest('give the SMILES as "instances" (rows) or "inputs" (columns), exactly one of them')
    if "instances" in body:
        field, columnar, items = "instances", False, body["instances"]
        if not isinstance(items, list):
            raise BadRequest("instances must be a list of SMILES strings")
        items = [_row_smiles(item, i) for i, item in enumerate(items)]
    else:
        field, columnar, items = "inputs", True, body["inputs"]
        if isinstance(items, dict):
            if set(items) != {INPUT_NAME}:
                raise BadRequest(f'inputs must name one tensor, "{INPUT_NAME}" (got {", ".join(map(repr, items))})')
            field, items = f"inputs.{INPUT_NAME}", items[INPUT_NAME]
        if not isinstance(items, list):
            raise BadRequest(f"{field} must be a list of SMILES strings")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise BadRequest(f"{field}[{i}] must be a SMILES string, not {_json_type(item)}")
    if len(items) > limit:
        raise BadRequest(f"{field} holds {len(items):,} SMILES; the limit is {limit:,} per request")
    return items, columnar


def _row_smiles(item: Any, i: int) -> Any:
    if isinstance(item, dict):
        if set(item) != {INPUT_NAME}:
            raise BadRequest(f'instances[{i}] must be a SMILES string or {{"{INPUT_NAME}": "…"}}')
        return item[INPUT_NAME]
    return item


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _columns(result, names: list[str]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {"value": number_list(result.value)}
    if "uncertainty" in names:
        columns["uncertainty"] = number_list(result.uncertainty)
    if "probabilities" in names and result.probabilities is not None:
        columns["probabilities"] = [
            number_list(row) if result.valid[i] else None for i, row in enumerate(result.probabilities)
        ]
    columns["error"] = list(result.errors)
    return columns
