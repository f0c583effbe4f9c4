"""The transport floor for bench_inference.py: a WSGI app that reads the request body and answers a
fixed Open Inference Protocol response, run by the same gunicorn settings behind the same nginx."""

import json

RESPONSE = json.dumps(
    {
        "model_name": "solubility",
        "model_version": "1",
        "outputs": [
            {"name": "value", "datatype": "FP64", "shape": [1], "data": [-2.5]},
            {"name": "error", "datatype": "BYTES", "shape": [1], "data": [""]},
        ],
    }
).encode()


def application(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(RESPONSE)))])
    return [RESPONSE]
