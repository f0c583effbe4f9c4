"""A trial Optuna proposes with the parameters of a complete trial takes that trial's result: it is
complete at once, says which trial it reused, its job (started while Optuna was asked) is stopped
before it trains, and Optuna is told the same value — unless the spec asks for repeats. Real local
jobs (processes that only sleep), completed through the trial API with each job's own token."""

from optuna.trial import TrialState
from rest_framework.test import APIClient

from compute import get_backend
from experiments import launcher, reconcile, studies
from experiments.models import Experiment, Trial

from .helpers import make_experiment, stored_token

TWO_CHOICES = {"n_estimators": {"type": "categorical", "choices": [10, 20]}}


def complete_running(experiment: Experiment) -> int:
    """Report a result for every running trial (rmse from its parameters), as its job would."""
    done = 0
    for trial in experiment.trials.filter(state=Trial.State.RUNNING).order_by("pk"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {stored_token(trial)}")
        rmse = trial.params["n_estimators"] / 100
        response = client.post(f"/api/trials/{trial.pk}/complete/", {"metrics": {"rmse": rmse}}, format="json")
        assert response.status_code == 200, response.content
        done += 1
    return done


def run_to_the_end(experiment: Experiment, steps: int = 40) -> str:
    for _ in range(steps):
        outcome = launcher.step(experiment.pk)
        if outcome == "ended":
            return outcome
        complete_running(experiment)
    raise AssertionError(f"not ended after {steps} steps: {outcome}")


def test_a_repeat_of_a_complete_trials_parameters_reuses_its_result(
    world, local_jobs, no_tasks, django_capture_on_commit_callbacks
):
    experiment = make_experiment(world, search_space=TWO_CHOICES, budget={"max_trials": 6}, parallelism=1,
                                 sampler={"type": "random", "seed": 5})  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert run_to_the_end(experiment) == "ended"
    experiment.refresh_from_db()
    trials = list(experiment.trials.order_by("number"))
    assert [t.state for t in trials] == ["complete"] * 6
    ran = [t for t in trials if t.reused_from is None]
    reused = [t for t in trials if t.reused_from is not None]
    assert sorted(t.params["n_estimators"] for t in ran) == [10, 20]  # each parameter set trained once
    assert len(reused) == 4
    assert all(t.job_handle for t in ran)
    study = studies.light_study(experiment)
    for trial in reused:
        source = trial.reused_from
        assert source.params == trial.params
        assert (trial.values, trial.metrics) == (source.values, source.metrics)
        assert trial.reason == f"same parameters as trial {source.number}: its result is reused (not trained again)"
        assert trial.told
        assert ("experiments.tasks.experiment_stop_jobs", (experiment.pk,)) in no_tasks
        if trial.job_handle:  # the job waiting for these parameters is stopped, and its token opens nothing
            assert reconcile.stop_jobs(experiment.pk) >= 0
            assert get_backend("local").status([trial.job_handle])[trial.job_handle].state.terminal
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {stored_token(trial)}")
            assert client.get(f"/api/trials/{trial.pk}/job/").status_code == 403
        frozen = study.trials[trial.number]
        assert (frozen.state, frozen.value, frozen.params) == (TrialState.COMPLETE, source.value, source.params)
    assert experiment.status_reason == (
        "budget spent: max_trials (6) reached; 6 complete (4 reusing an earlier result), 0 pruned, 0 failed, "
        "0 cancelled"
    )
    listed = world.api("amy").get(f"/api/experiments/{experiment.pk}/trials/").json()["results"]
    assert sorted(row["reused_from"] for row in listed if row["reused_from"] is not None) == sorted(
        t.reused_from.number for t in reused
    )


def test_repeat_identical_trials_runs_every_trial(world, local_jobs, no_tasks):
    experiment = make_experiment(world, search_space=TWO_CHOICES, budget={"max_trials": 4}, parallelism=1,
                                 sampler={"type": "random", "seed": 5}, repeat_identical_trials=True)  # fmt: skip
    assert run_to_the_end(experiment) == "ended"
    trials = list(experiment.trials.order_by("number"))
    assert [t.state for t in trials] == ["complete"] * 4
    assert all(t.job_handle and t.reused_from is None for t in trials)
    assert len({t.params["n_estimators"] for t in trials}) < 4  # some were repeats, and ran


def test_a_sampler_that_only_repeats_itself_ends_the_experiment(world, local_jobs, no_tasks):
    """With a time budget only, a search space that is used up would otherwise reuse forever."""
    experiment = make_experiment(world, search_space=TWO_CHOICES, budget={"max_time_seconds": 3600}, parallelism=1,
                                 sampler={"type": "random", "seed": 5})  # fmt: skip
    assert run_to_the_end(experiment) == "ended"
    experiment.refresh_from_db()
    assert experiment.status_reason.startswith(
        "budget spent: the sampler proposed only parameter sets already tried (20 trials in a row); 22 complete"
    )
    assert experiment.trials.filter(reused_from=None).count() == 2
