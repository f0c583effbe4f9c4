"""The inference server runs with only the core set and its own (requirements/core.txt and
requirements/inference.txt), as in the inference image: imports, app creation, a package loaded
from a local archive and a prediction, in an interpreter that sees only those distributions."""

from __future__ import annotations

import json

from tests.chemcore.test_requirement_sets import pinned, run_guarded

from .servers import model_entry

SERVE = """
import json, os, time
os.environ["INFERENCE_MODELS"] = {models!r}
os.environ["INFERENCE_CACHE_DIR"] = {cache!r}
import gunicorn.app.wsgiapp, gunicorn.workers.gthread, boto3, prometheus_client, pythonjsonlogger
from inference.app import create_app
from inference.config import settings_from_env
app = create_app(settings_from_env())
client = app.test_client()
deadline = time.monotonic() + 120
while client.get("/v2/health/ready").status_code != 200:
    assert time.monotonic() < deadline, client.get("/v2/health/ready").json
    time.sleep(0.1)
answer = client.post("/v1/models/solubility:predict", json={{"instances": ["CCO", "nope"]}}).json
assert answer["predictions"][0]["error"] is None, answer
assert answer["predictions"][1]["value"] is None, answer
"""


def test_the_server_works_with_only_the_core_and_inference_sets(regression_archive, tmp_path):
    models = json.dumps([model_entry("solubility", 1, regression_archive)])
    result = run_guarded(
        pinned("core", "inference"),
        "import inference.app, inference.tfserving, inference.openinference",
        SERVE.format(models=models, cache=str(tmp_path / "cache")),
        site=tmp_path / "site",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_the_isolation_hides_the_portal(tmp_path):
    result = run_guarded(pinned("core", "inference"), "import django", site=tmp_path / "site")
    assert "No module named 'django'" in result.stderr
