"""Protocol conformance: schemathesis drives the running server from the Open Inference Protocol's
own OpenAPI file (open_inference_rest.yaml, see SPECS.md), with examples, boundary cases and
generated requests, valid and invalid.

Checks: no 5xx, documented status codes, and content types, headers and bodies as the schema says;
requests the schema forbids must be refused (4xx). The schema's infer request allows any tensor, so
a valid-looking request for another model's inputs is rightly refused here: "positive data
acceptance" does not apply and is left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SPEC = Path(__file__).with_name("open_inference_rest.yaml")
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)


def run_schemathesis(server_url: str, tmp_path: Path, model: str, version: str, examples: int):
    spec = tmp_path / "open_inference_rest.yaml"
    spec.write_text(SPEC.read_text().replace("${", "{"))
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.MODEL_NAME" = "{model}"\n"path.MODEL_VERSION" = "{version}"\n')
    command = [
        str(SCHEMATHESIS), "--no-color", "--config-file", str(config), "run", str(spec), "--url", server_url,
        "--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--max-examples", str(examples),
        "--seed", "1", "--workers", "1", "--request-timeout", "30", "--suppress-health-check", "too_slow",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("model", "version"), [("solubility", "2"), ("solubility-class", "champion")])
def test_the_server_conforms_to_the_open_inference_protocol_schema(server, tmp_path, model, version):
    result = run_schemathesis(server.url, tmp_path, model, version, examples=40)
    output = result.stdout + result.stderr
    print(output[-6000:])  # the run's summary, shown with -s
    assert result.returncode == 0, output[-8000:]
    assert "No issues found" in output or "passed" in output, output[-4000:]


def test_schemathesis_really_checks(tmp_path):
    """Against a server that answers 500 to everything, the same run must fail."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Broken(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": "broken"}')

        do_POST = do_GET

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        result = run_schemathesis(f"http://127.0.0.1:{httpd.server_port}", tmp_path, "m", "1", examples=5)
    finally:
        httpd.shutdown()
    assert result.returncode != 0
    assert "Server error" in result.stdout + result.stderr
