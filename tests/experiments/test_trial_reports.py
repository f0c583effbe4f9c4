"""What a trial's job reports: intermediate values (answered with prune or not), its package, its
result; racing reports make one state change and tell Optuna once."""

import json
import threading

import pytest
from django.db import connection
from optuna.trial import TrialState
from rest_framework.test import APIClient

from experiments import studies

from .helpers import make_experiment, make_running_trial, optuna_trial


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def tells(monkeypatch) -> list:
    """Every outcome told to Optuna (through either entry point)."""
    calls = []
    real_tell, real_tell_trial = studies.tell, studies.tell_trial

    def counting(study, number, state, values):
        calls.append((number, state, values))
        return real_tell(study, number, state, values)

    def counting_trial(experiment, optuna_trial_id, number, state, values):
        calls.append((number, state, values))
        return real_tell_trial(experiment, optuna_trial_id, number, state, values)

    monkeypatch.setattr(studies, "tell", counting)
    monkeypatch.setattr(studies, "tell_trial", counting_trial)
    return calls


def test_racing_completes_make_one_transition_and_one_tell(world, transactional_db, no_tasks, tells):
    experiment = make_experiment(world)
    trial, token = make_running_trial(experiment)
    url = f"/api/trials/{trial.pk}/complete/"
    barrier = threading.Barrier(2)
    results: dict[float, int] = {}

    def post(rmse: float) -> None:
        try:
            barrier.wait()
            response = client_with(token).post(url, {"metrics": {"rmse": rmse, "r2": 0.5}}, format="json")
            results[rmse] = response.status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(value,)) for value in (0.7, 0.9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # the loser either raced the winner's transition (409) or came after it (403: a finished trial's token)
    assert sorted(results.values()) in ([200, 403], [200, 409]), results
    winner = next(value for value, code in results.items() if code == 200)
    assert len(tells) == 1
    trial.refresh_from_db()
    assert (trial.state, trial.values, trial.value, trial.told) == ("complete", [winner], winner, True)
    frozen = optuna_trial(experiment, trial.number)
    assert (frozen.state, frozen.value) == (TrialState.COMPLETE, winner)

    late = client_with(token).post(url, {"metrics": {"rmse": 0.1}}, format="json")
    assert late.status_code == 403
    assert late.json()["error"]["code"] == "permission_denied"
    trial.refresh_from_db()
    assert trial.values == [winner]
    assert optuna_trial(experiment, trial.number).value == winner
    assert len(tells) == 1


def test_complete_needs_the_objective_metrics(world, no_tasks):
    experiment = make_experiment(world)
    trial, token = make_running_trial(experiment)
    client = client_with(token)
    for metrics, field in [({"r2": 0.3}, "metrics.rmse"), ({"rmse": "low"}, "metrics.rmse")]:
        response = client.post(f"/api/trials/{trial.pk}/complete/", {"metrics": metrics}, format="json")
        assert response.status_code == 400
        assert field in response.json()["error"]["fields"]
    trial.refresh_from_db()
    assert trial.state == "running"


def test_reports_reach_the_pruner(world, no_tasks):
    """A median pruner (after two finished trials) prunes a trial that does worse than the finished ones."""
    experiment = make_experiment(world, pruner={"type": "median", "n_startup_trials": 2, "n_min_trials": 1})
    for value in (0.5, 0.6):
        done, token = make_running_trial(experiment)
        client = client_with(token)
        for step in (1, 2):
            answer = client.post(f"/api/trials/{done.pk}/report/", {"step": step, "value": value}, format="json")
            assert answer.json() == {"prune": False}
        client.post(f"/api/trials/{done.pk}/complete/", {"metrics": {"rmse": value}}, format="json")
    trial, token = make_running_trial(experiment)
    client = client_with(token)
    answer = client.post(f"/api/trials/{trial.pk}/report/", {"step": 1, "value": 3.0}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {"prune": True}
    trial.refresh_from_db()
    assert (trial.state, trial.last_step, trial.last_value) == ("pruned", 1, 3.0)
    assert optuna_trial(experiment, trial.number).state == TrialState.PRUNED
    assert (
        client.post(f"/api/trials/{trial.pk}/complete/", {"metrics": {"rmse": 3.0}}, format="json").status_code == 403
    )
    bad = client_with(make_running_trial(experiment)[1])
    assert bad.post(f"/api/trials/{trial.pk}/report/", {"step": 1}, format="json").status_code == 403


def test_package_upload_is_verified_and_size_bounded(world, no_tasks, regression_archive, settings):
    experiment = make_experiment(world)
    trial, token = make_running_trial(experiment)
    client = client_with(token)
    url = f"/api/trials/{trial.pk}/package/"
    junk = client.put(url, data=b"not a package", content_type="application/octet-stream")
    assert junk.status_code == 400
    assert "package" in junk.json()["error"]["fields"]
    body = regression_archive.read_bytes()
    settings.TRIAL_MAX_PACKAGE_BYTES = len(body) - 1
    assert client.put(url, data=body, content_type="application/octet-stream").status_code == 413
    settings.TRIAL_MAX_PACKAGE_BYTES = len(body)
    response = client.put(url, data=body, content_type="application/octet-stream")
    assert response.status_code == 200, response.content
    trial.refresh_from_db()
    assert trial.package_path == f"teams/{world.alpha.pk}/experiments/{experiment.pk}/trials/{trial.pk}/package.tar.gz"
    assert len(trial.data_fingerprint) == 64
    from django.core.files.storage import default_storage

    with default_storage.open(trial.package_path, "rb") as stored:
        assert stored.read() == body


def test_the_dataset_streams_as_csv(world, no_tasks, solubility_csv, solubility_csv_bytes):
    experiment = make_experiment(world)
    trial, token = make_running_trial(experiment)
    response = client_with(token).get(f"/api/trials/{trial.pk}/dataset/")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    lines = text.splitlines()
    assert lines[0] == "smiles,target"
    source = solubility_csv_bytes.decode().splitlines()
    assert len(lines) == len(source)
    assert lines[1] == source[1]
    # a file's SMILES come as written: the job standardises them with the default options
    from chemcore.standardise import StandardiseOptions

    declared = json.loads(response["Dataset-Standardisation"])
    assert declared == {"options": StandardiseOptions().to_dict(), "standardised": False}


def test_a_library_dataset_takes_the_target_from_shard_properties(world, no_tasks, settings):
    from tests.screening.conftest import make_library

    settings.LIBRARY_SHARD_ROWS = 2
    content = b"smiles,name,pIC50\nCCO,a,5.5\nc1ccccc1,b,6.25\nCCN,c,\nCC(=O)O,d,7\n"
    library = make_library(world, content, "small.csv", smiles_column="smiles")
    experiment = make_experiment(world, dataset={"library": library.pk, "target": "pIC50"})
    trial, token = make_running_trial(experiment)
    response = client_with(token).get(f"/api/trials/{trial.pk}/dataset/")
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0] == "smiles,target"
    assert sorted(rows[1:]) == sorted(["CCO,5.5", "c1ccccc1,6.25", "CCN,", "CC(=O)O,7"])
    assert library.shards.count() == 2
    # a library's SMILES were standardised at ingest, with the options it recorded
    from chemcore.standardise import StandardiseOptions

    declared = json.loads(response["Dataset-Standardisation"])
    assert declared == {"options": StandardiseOptions().to_dict(), "standardised": True}
