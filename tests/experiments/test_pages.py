"""Experiment pages: launching from the form, the live JSON, figures, actions, logs and summary files,
always within the team; names from specs are shown escaped."""

from __future__ import annotations

import json

import pytest
import yaml
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from experiments import trials
from experiments.models import Experiment, Trial
from tests.access import ANONYMOUS, assert_page_access

from .helpers import SPEC, make_experiment, make_running_trial


def test_launch_from_the_form_and_field_errors(world, solubility_csv, no_tasks, django_capture_on_commit_callbacks):
    client = world.browser("amy")
    page = client.get("/experiments/")
    assert page.status_code == 200
    assert b"demo-solubility-rf" in page.content  # the form starts from a working example

    bad = {**SPEC, "search_space": {"n_estimators": {"type": "int", "low": 30, "high": 10}}}
    refused = client.post("/experiments/", {"team": world.alpha.pk, "spec": yaml.safe_dump(bad)})
    assert refused.status_code == 200
    assert "search_space.n_estimators" in refused.content.decode()
    assert not Experiment.objects.exists()

    missing = {**SPEC, "dataset": {**SPEC["dataset"], "location": "datasets/nothing.csv"}}
    refused = client.post("/experiments/", {"team": world.alpha.pk, "spec": yaml.safe_dump(missing)})
    assert "dataset.location" in refused.content.decode()

    # A team the user is not in is not a choice.
    foreign = client.post("/experiments/", {"team": world.beta.pk, "spec": yaml.safe_dump(SPEC)})
    assert "Select a valid choice" in foreign.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        launched = client.post("/experiments/", {"team": world.alpha.pk, "spec": yaml.safe_dump(SPEC)})
    experiment = Experiment.objects.get()
    assert launched.status_code == 302
    assert launched["Location"] == f"/experiments/{experiment.pk}/"
    assert experiment.team == world.alpha
    assert experiment.created_by == world.users["amy"]
    assert ("experiments.tasks.experiment_step", (experiment.pk,)) in no_tasks


def test_the_detail_page_its_live_json_and_figures(world, no_tasks):
    experiment = make_experiment(world)
    trial, _ = make_running_trial(experiment)
    trials.report(trial, 1, 0.9)
    client = world.browser("amy")

    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "0.9 @ step 1" in page  # a running trial shows its latest intermediate value
    assert f'href="/experiments/{experiment.pk}/pause/"' not in page  # actions are POST forms
    assert f'action="/experiments/{experiment.pk}/pause/"' in page

    live = client.get(f"/experiments/{experiment.pk}/", HTTP_ACCEPT="application/json").json()
    assert live["experiment"]["progress"]["trials"]["active"] == 1
    [row] = live["trials"]
    assert row["state"] == "running"
    assert row["params"] == [json.dumps(trial.params["n_estimators"])]

    figures = client.get(f"/experiments/{experiment.pk}/figures/").json()
    assert figures["optimization_history"] == {"message": "Drawn once a trial completes."}

    trials.complete(trial, {"rmse": 1.25})
    second, _ = make_running_trial(experiment)
    trials.complete(second, {"rmse": 0.75})
    figures = client.get(f"/experiments/{experiment.pk}/figures/").json()
    history = figures["optimization_history"]["figure"]
    objective_values = [y for series in history["data"] for y in series.get("y", [])]
    assert 1.25 in objective_values
    assert 0.75 in objective_values
    assert "figure" in figures["param_importances"] or "message" in figures["param_importances"]

    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "rmse 0.75" in page  # the best trial
    script = client.get(page.split('<script src="')[1].split('"')[0])
    assert script.status_code == 200
    assert b"plotly" in script.content[:2000].lower()


def test_pause_resume_cancel_buttons(world, no_tasks):
    experiment = make_experiment(world)
    client = world.browser("amy")
    url = f"/experiments/{experiment.pk}"
    assert client.post(f"{url}/pause/").status_code == 302
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.PAUSED
    client.post(f"{url}/resume/")
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.RUNNING
    client.post(f"{url}/cancel/")
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.CANCELLED
    again = client.post(f"{url}/cancel/", follow=True)
    assert "can no longer be cancelled" in again.content.decode()
    assert client.post(f"{url}/explode/").status_code == 404
    assert client.get(f"{url}/pause/").status_code == 405


def test_logs_and_summary_files_are_served_to_the_team_only(world, no_tasks):
    experiment = make_experiment(world)
    trial, _ = make_running_trial(experiment)
    log_key = default_storage.save(
        f"teams/{world.alpha.pk}/experiments/{experiment.pk}/trials/{trial.pk}/log.txt", ContentFile(b"epoch 1\n")
    )
    prefix = f"teams/{world.alpha.pk}/experiments/{experiment.pk}/summary/"
    default_storage.save(prefix + "trials.csv", ContentFile(b"trial,number\n1,0\n"))
    default_storage.save(prefix + "optimization_history.html", ContentFile(b"<html><script>1</script></html>"))
    Trial.objects.filter(pk=trial.pk).update(log_path=log_key, job_handle="local-x")
    Experiment.objects.filter(pk=experiment.pk).update(summary_prefix=prefix)

    log_url = f"/experiments/{experiment.pk}/trials/{trial.pk}/log/"
    assert b"".join(world.browser("amy").get(log_url).streaming_content) == b"epoch 1\n"
    csv_response = world.browser("amy").get(f"/experiments/{experiment.pk}/summary/trials/")
    assert csv_response["Content-Disposition"].startswith("attachment")
    html = world.browser("amy").get(f"/experiments/{experiment.pk}/summary/optimization_history/")
    assert html["Content-Security-Policy"] == "sandbox allow-scripts"  # its scripts cannot reach the portal
    assert world.browser("amy").get(f"/experiments/{experiment.pk}/summary/nothing/").status_code == 404

    for url in (
        f"/experiments/{experiment.pk}/",
        f"/experiments/{experiment.pk}/figures/",
        log_url,
        f"/experiments/{experiment.pk}/summary/trials/",
    ):
        assert_page_access(world, url=url, expect={"alice": 200, "bob": 404, ANONYMOUS: 302})
    assert_page_access(world, url=f"/experiments/{experiment.pk}/cancel/", method="post", expect={"bob": 404})
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.RUNNING


def test_the_list_shows_only_the_teams_experiments_and_text_is_escaped(world, no_tasks):
    mine = make_experiment(world, description="<script>alert('spec')</script>")
    make_experiment(world, team=world.beta, name="beta-secret")
    trial, _ = make_running_trial(mine)
    trials.fail(trial, "<img src=x onerror=alert('job')>")  # a job reports whatever it likes
    page = world.browser("amy").get("/experiments/").content.decode()
    assert "beta-secret" not in page
    assert mine.name in page
    detail = world.browser("amy").get(f"/experiments/{mine.pk}/").content.decode()
    assert "<script>alert('spec')</script>" not in detail
    assert "&lt;script&gt;alert(&#x27;spec&#x27;)&lt;/script&gt;" in detail
    assert "<img src=x" not in detail
    assert "&lt;img src=x onerror=alert(&#x27;job&#x27;)&gt;" in detail


@pytest.mark.parametrize("path", ["/experiments/", "/experiments/999999/"])
def test_pages_need_a_signed_in_person(world, path):
    assert_page_access(world, url=path, expect={ANONYMOUS: 302})
