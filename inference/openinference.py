"""The Open Inference Protocol (KServe v2; specs: inference_rest.md, open_inference_rest.yaml) with
the binary tensor data extension.

    GET  /v2                                         server metadata
    GET  /v2/health/live, /v2/health/ready           probes (ready: every model loaded and warmed)
    GET  /v2/models/<name>[/versions/<v>]            model metadata: input and output tensors
    GET  /v2/models/<name>[/versions/<v>]/ready      model readiness (503 with the reason when not ready)
    POST /v2/models/<name>[/versions/<v>]/infer      one BYTES input "smiles", shape [n] or [n, 1]

A version may be a number or one of the model's labels. Outputs: `value` FP64 [n], `uncertainty`
FP64 [n] (models that have it), `probabilities` FP64 [n, classes] (classifiers) and `error` BYTES [n]
("" when the molecule was scored); a missing number is null in JSON and NaN in binary.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request

from . import __version__
from .errors import BadRequest
from .http_io import _refuse_compression, dumps, json_of, response
from .outputs import INPUT_NAME, describe, output_names
from .repository import ServedModel
from .scoring import score
from .tensors import HEADER_LENGTH, bytes_output, decode_bytes_elements, flatten, fp64_output, split_body

blueprint = Blueprint("openinference", __name__)

SERVER_NAME = "chemcore-inference"
EXTENSIONS = ["binary_tensor_data"]


def _repository():
    return current_app.extensions["inference"].repository


def _find(name: str, version: str | None) -> ServedModel:
    g.model = name
    repository = _repository()
    if version is not None and not version.isdigit():
        return repository.find(name, label=version)
    return repository.find(name, version)


@blueprint.get("/v2")
@blueprint.get("/v2/")
def server_metadata():
    return response({"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS})


@blueprint.get("/v2/health/live")
def live():
    return response({"live": True})


@blueprint.get("/v2/health/ready")
def ready():
    repository = _repository()
    if repository.ready:
        return response({"ready": True})
    return response({"ready": False, "error": "; ".join(repository.not_ready_reasons())}, status=503)


@blueprint.get("/v2/models/<name>")
@blueprint.get("/v2/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None):
    model = _find(name, version)
    model.require_available()
    versions = [m.version for m in _repository().versions_of(name)]
    assert model.predictor is not None
    n_classes = model.predictor.n_classes
    shapes = {"value": [-1], "uncertainty": [-1], "probabilities": [-1, n_classes or 0], "error": [-1]}
    outputs = [
        {"name": n, "datatype": "BYTES" if n == "error" else "FP64", "shape": shapes[n]} for n in output_names(model)
    ]
    about = describe(model)
    return response(
        {
            "name": model.name,
            "versions": versions,
            "platform": f"chemcore_{model.predictor.manifest.flavour}",
            "inputs": [{"name": INPUT_NAME, "datatype": "BYTES", "shape": [-1]}],
            "outputs": outputs,
            "parameters": {
                "version": model.version,
                "task": about["task"],
                "target": str(about["target"].get("name")),
                "units": str(about["target"].get("units") or ""),
                "classes": dumps(about["classes"]).decode(),
                "labels": ",".join(about["labels"]),
            },
        }
    )


@blueprint.get("/v2/models/<name>/ready")
@blueprint.get("/v2/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None):
    model = _find(name, version)
    reason = model.unavailable_reason()
    if reason is None:
        return response({"name": model.name, "ready": True})
    return response({"name": model.name, "ready": False, "error": reason}, status=503)


@blueprint.post("/v2/models/<name>/infer")
@blueprint.post("/v2/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None):
    model = _find(name, version)
    model.require_available()
    server = current_app.extensions["inference"]
    _refuse_compression()
    header, binary = split_body(request.get_data(cache=False), request.headers.get(HEADER_LENGTH))
    body = json_of(header, "the inference request")
    smiles = _input_smiles(body, binary, server.settings.max_molecules)
    wanted = _requested_outputs(body, model)
    result = score(model, smiles, settings=server.settings, deadline=g.deadline)
    n = len(smiles)
    tensors, blobs = [], []
    for out_name, binary_out in wanted:
        if out_name == "error":
            tensor, blob = bytes_output(out_name, [e or "" for e in result.errors], binary_out)
        elif out_name == "probabilities":
            tensor, blob = fp64_output(out_name, result.probabilities, [n, result.probabilities.shape[1]], binary_out)
        else:
            tensor, blob = fp64_output(out_name, getattr(result, out_name), [n], binary_out)
        tensors.append(tensor)
        blobs.append(blob)
    payload: dict[str, Any] = {"model_name": model.name, "model_version": model.version, "outputs": tensors}
    if isinstance(body.get("id"), str):
        payload["id"] = body["id"]
    if not any(blobs):
        return response(payload)
    head = dumps(payload)
    return Response(
        head + b"".join(blobs),
        mimetype="application/octet-stream",
        headers={HEADER_LENGTH: str(len(head))},
    )


def _input_smiles(body: dict[str, Any], binary: bytes, limit: int) -> list[str]:
    if "id" in body and not isinstance(body["id"], str):
        raise BadRequest("id must be a string")
    if "parameters" in body and not isinstance(body["parameters"], dict):
        raise BadRequest("parameters must be an object")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest(f'inputs must be a list holding one tensor, "{INPUT_NAME}" (BYTES)')
    if len(inputs) != 1:
        raise BadRequest(f'this model takes one input tensor, "{INPUT_NAME}"; the request has {len(inputs)}')
    tensor = inputs[0]
    if not isinstance(tensor, dict):
        raise BadRequest("inputs[0] must be an object with name, shape, datatype and data")
    if tensor.get("name") != INPUT_NAME:
        raise BadRequest(f'unknown input {tensor.get("name")!r}; this model takes one input, "{INPUT_NAME}" (BYTES)')
    where = f"input {INPUT_NAME!r}"
    if tensor.get("datatype") != "BYTES":
        raise BadRequest(f"{where} must have datatype BYTES (SMILES strings), not {tensor.get('datatype')!r}")
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        or len(shape) not in (1, 2)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise BadRequest(f"{where} must have shape [n] or [n, 1]; got {shape!r}")
    n = shape[0]
    if n > limit:
        raise BadRequest(f"{where} holds {n:,} SMILES; the limit is {limit:,} per request")
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest(f"{where}: parameters must be an object")
    if "binary_data_size" in parameters:
        size = parameters["binary_data_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0 or size > len(binary):
            raise BadRequest(f"{where}: binary_data_size {size!r} does not fit the {len(binary)} bytes sent")
        if "data" in tensor:
            raise BadRequest(f"{where} has both binary data and JSON data")
        raw_items = decode_bytes_elements(binary[:size], where)
        items: list[Any] = []
        for i, raw in enumerate(raw_items):
            try:
                items.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise BadRequest(f"{where}: element {i} is not UTF-8 text") from None
    else:
        if "data" not in tensor:
            raise BadRequest(f"{where} has no data")
        items = flatten(tensor["data"], where)
    if len(items) != n:
        raise BadRequest(f"{where} has shape {shape} ({n} elements) but {len(items)} data elements")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise BadRequest(f"{where}: element {i} must be a SMILES string, not {type(item).__name__}")
    return items


def _requested_outputs(body: dict[str, Any], model: ServedModel) -> list[tuple[str, bool]]:
    """(name, binary?) for each output to return, in the order asked (all when none is named)."""
    parameters = body.get("parameters") or {}
    default_binary = parameters.get("binary_data_output") is True
    available = output_names(model)
    requested = body.get("outputs")
    if requested is None:
        return [(name, default_binary) for name in available]
    if not isinstance(requested, list):
        raise BadRequest("outputs must be a list of {name} objects")
    wanted = []
    for i, item in enumerate(requested):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadRequest(f"outputs[{i}] must be an object with a name")
        if item["name"] not in available:
            raise BadRequest(f"unknown output {item['name']!r}; this model gives: {', '.join(available)}")
        params = item.get("parameters") or {}
        if not isinstance(params, dict):
            raise BadRequest(f"outputs[{i}].parameters must be an object")
        wanted.append((item["name"], params.get("binary_data", default_binary) is True))
    return wanted
