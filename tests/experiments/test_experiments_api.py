"""/api/experiments/: create from JSON or YAML (errors name the spec field), team scoping and token
scopes, pause/resume/cancel, and the trials list."""

import copy

import pytest
import yaml

from experiments.models import Experiment
from portal.teams.models import ApiToken
from portal.teams.services import api_token_create
from tests.access import ANONYMOUS, assert_api_access

from .helpers import SPEC, make_experiment, make_running_trial


@pytest.fixture
def readonly(world):
    world.tokens["amy-readonly"] = api_token_create(user=world.users["amy"], name="ro", scope=ApiToken.Scope.READ).raw
    return world


def create(world, actor="amy", **body):
    return world.api(actor).post("/api/experiments/", body, format="json")


def test_create_from_json_and_from_yaml(world, solubility_csv, no_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = create(world, team="alpha", spec=SPEC)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["team"] == "alpha"
    assert body["spec"]["sampler"]["constant_liar"] is True  # stored normalised, defaults filled
    assert body["progress"]["trials"]["launched"] == 0
    assert no_tasks == [("experiments.tasks.experiment_step", (body["id"],))]

    text = yaml.safe_dump({**SPEC, "name": "from-yaml"})
    response = create(world, team="alpha", spec_yaml=text)
    assert response.status_code == 201, response.content
    experiment = Experiment.objects.get(pk=response.json()["id"])
    assert experiment.spec_text == text
    assert experiment.name == "from-yaml"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s["search_space"]["n_estimators"].update(low=50), "search_space.n_estimators.low"),
        (lambda s: s["search_space"].update(x={"type": "float", "low": 2, "high": 1}), "search_space.x"),
        (lambda s: s["budget"].pop("max_trials"), "budget"),
        (lambda s: s.update(parallelism=0), "parallelism"),
        (lambda s: s["sampler"].update(n_startup_trial=3), "sampler.n_startup_trial"),
        (lambda s: s["dataset"].update(location="datasets/missing.csv"), "dataset.location"),
        (lambda s: s["dataset"].update(location="s3://other-bucket/data.csv"), "dataset.location"),
        (lambda s: s["dataset"].update(target="pIC50"), "dataset.target"),
        (lambda s: s.update(dataset={"library": 999999, "target": "x"}), "dataset.library"),
        (lambda s: s.update(backend={"type": "batch"}), "backend.type"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(world, solubility_csv, no_tasks, settings, change, field):
    settings.AWS_BATCH_JOB_QUEUE = ""
    spec = copy.deepcopy(SPEC)
    change(spec)
    response = create(world, team="alpha", spec=spec)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert any(name == field or name.startswith(field) for name in error["fields"]), error
    assert error["message"].startswith(next(iter(error["fields"])))
    assert Experiment.objects.count() == 0


def test_spec_text_errors_and_body_shape(world, solubility_csv, no_tasks):
    response = create(world, team="alpha", spec_yaml="name: x\n  bad: [indent")
    assert response.status_code == 400
    assert "YAML" in response.json()["error"]["message"]
    both = create(world, team="alpha", spec=SPEC, spec_yaml="name: x")
    assert both.status_code == 400
    assert "spec" in both.json()["error"]["fields"]
    assert create(world, team="beta", spec=SPEC).json()["error"]["fields"].keys() == {"team"}


def test_register_model_of_another_task_is_refused(world, solubility_csv, no_tasks, alpha_model):
    spec = {**copy.deepcopy(SPEC), "register": {"model": alpha_model.name}}
    spec["dataset"]["task"] = "classification"
    spec["objective"] = {"metric": "roc_auc"}
    response = create(world, team="alpha", spec=spec)
    assert response.status_code == 400
    assert "register.model" in response.json()["error"]["fields"]


def test_access_matrix(readonly, solubility_csv, no_tasks):
    world = readonly
    assert_api_access(
        world, method="post", url="/api/experiments/", data={"team": "alpha", "spec": SPEC},
        expect={ANONYMOUS: 401, "bob": 400, "amy-readonly": 403}, unchanged=Experiment.objects.count,
    )  # fmt: skip
    experiment = make_experiment(world)
    url = f"/api/experiments/{experiment.pk}/"
    status = lambda: Experiment.objects.get(pk=experiment.pk).status  # noqa: E731
    assert_api_access(
        world, method="get", url=url, expect={"alice": 200, "amy": 200, "amy-readonly": 200, "bob": 404, ANONYMOUS: 401}
    )  # fmt: skip
    assert_api_access(world, method="get", url=f"{url}trials/", expect={"amy": 200, "bob": 404, ANONYMOUS: 401})
    for action in ("pause", "resume", "cancel"):
        assert_api_access(
            world, method="post", url=f"{url}{action}/", expect={ANONYMOUS: 401, "bob": 404, "amy-readonly": 403},
            unchanged=status,
        )  # fmt: skip
    assert world.api("bob").get("/api/experiments/").json()["count"] == 0
    assert world.api("alice").get("/api/experiments/").json()["count"] == 1


def test_pause_resume_cancel_and_trials(world, no_tasks, django_capture_on_commit_callbacks):
    experiment = make_experiment(world)
    trial, _ = make_running_trial(experiment)
    client = world.api("amy")
    url = f"/api/experiments/{experiment.pk}/"
    assert client.post(f"{url}resume/").status_code == 409
    assert client.post(f"{url}pause/").json()["status"] == "paused"
    assert client.post(f"{url}pause/").status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        resumed = client.post(f"{url}resume/").json()
    assert resumed["status"] == "running"
    assert ("experiments.tasks.experiment_step", (experiment.pk,)) in no_tasks
    trials = client.get(f"{url}trials/").json()
    assert trials["count"] == 1
    assert trials["results"][0]["state"] == "running"
    assert trials["results"][0]["params"] == trial.params
    cancelled = client.post(f"{url}cancel/").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["status_reason"] == "cancelled by amy"
    assert client.get(f"{url}trials/", {"state": "cancelled"}).json()["count"] == 1
    assert client.post(f"{url}cancel/").status_code == 409
    assert client.get("/api/experiments/", {"status": "cancelled"}).json()["count"] == 1
