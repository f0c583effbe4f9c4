"""Trial tokens open their own trial's endpoints and nothing else: expired, tampered, revoked and
foreign tokens are refused, and no other endpoint accepts them."""

import pytest
from rest_framework.test import APIClient

from experiments import tokens
from tests.access import ANONYMOUS

from .helpers import make_experiment, make_running_trial, token_for


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def two_trials(world, no_tasks):
    experiment = make_experiment(world)
    return make_running_trial(experiment), make_running_trial(experiment)


def test_a_trial_token_fetches_its_own_job(two_trials):
    (trial, token), _ = two_trials
    response = client_with(token).get(f"/api/trials/{trial.pk}/job/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["trial"] == trial.pk
    assert body["params"] == trial.params
    assert body["spec"]["search_space"]["n_estimators"]["high"] == 30
    assert body["urls"]["complete"].endswith(f"/api/trials/{trial.pk}/complete/")
    trial.refresh_from_db()
    assert trial.started_at is not None


def test_expired_tampered_and_revoked_tokens_are_refused(two_trials):
    (trial, token), _ = two_trials
    url = f"/api/trials/{trial.pk}/job/"
    expired = token_for(trial, expires_in=-1)
    assert client_with(expired).get(url).status_code == 401
    assert "expired" in client_with(expired).get(url).json()["error"]["message"]
    head, signature = token.rsplit(":", 1)
    tampered = f"{head}:{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert client_with(tampered).get(url).status_code == 401
    other_id = token.replace(f"trial.{trial.pk}.", f"trial.{trial.pk + 1000}.", 1)
    assert client_with(other_id).get(url).status_code == 401
    trial.token_nonce = tokens.new_nonce()  # a resubmitted trial revokes its earlier job's token
    trial.save(update_fields=["token_nonce"])
    assert client_with(token).get(url).status_code == 401


def test_a_token_for_trial_a_is_forbidden_on_trial_b(two_trials):
    (_, token_a), (trial_b, _) = two_trials
    for action, method in [("job", "get"), ("dataset", "get"), ("heartbeat", "post"), ("complete", "post"),
                           ("fail", "post"), ("report", "post"), ("package", "put")]:  # fmt: skip
        response = getattr(client_with(token_a), method)(f"/api/trials/{trial_b.pk}/{action}/", {}, format="json")
        assert response.status_code == 403, (action, response.content)
    trial_b.refresh_from_db()
    assert trial_b.state == "running"


def test_a_trial_token_opens_nothing_else(world, two_trials, alpha_version):
    (trial, token), (other, _) = two_trials
    client = client_with(token)
    experiment = trial.experiment
    for url in ["/api/libraries/", "/api/models/", f"/api/models/{alpha_version.model.name}/",
                "/api/experiments/", f"/api/experiments/{experiment.pk}/", f"/api/experiments/{experiment.pk}/trials/",
                "/api/campaigns/", "/api/me/", "/api/tokens/"]:  # fmt: skip
        assert client.get(url).status_code == 401, url
    assert client.post(f"/api/experiments/{experiment.pk}/cancel/").status_code == 401
    assert client.get(f"/api/trials/{other.pk}/job/").status_code == 403


def test_trial_endpoints_take_no_personal_token_or_session(world, two_trials):
    (trial, _), _ = two_trials
    url = f"/api/trials/{trial.pk}/job/"
    assert world.api("amy").get(url).status_code == 401
    assert world.api(ANONYMOUS).get(url).status_code == 401
    assert world.browser("amy").get(url).status_code == 401


ENDPOINTS = [("job", "get"), ("dataset", "get"), ("heartbeat", "post"), ("report", "post"), ("package", "put"),
             ("complete", "post"), ("fail", "post")]  # fmt: skip


@pytest.mark.parametrize("state", ["complete", "pruned", "failed", "cancelled"])
def test_a_finished_trials_token_opens_nothing(two_trials, solubility_csv, state):
    """However long the token has left, once its trial is finished every trial endpoint answers 403
    (the dataset included), and nothing changes."""
    from experiments import trials

    (trial, token), _ = two_trials
    client = client_with(token)
    assert client.get(f"/api/trials/{trial.pk}/dataset/").status_code == 200  # while it runs
    values = [0.5] if state == "complete" else None
    trials.finish(trial.pk, state, reason=f"{state} by the test", values=values)
    for action, method in ENDPOINTS:
        body = {"metrics": {"rmse": 0.1}} if action == "complete" else {"step": 1, "value": 0.5, "reason": "x"}
        response = getattr(client, method)(f"/api/trials/{trial.pk}/{action}/", body, format="json")
        assert response.status_code == 403, (action, response.content)
        assert f"is {state}: its token no longer opens any trial endpoint" in response.json()["error"]["message"]
    trial.refresh_from_db()
    assert (trial.state, trial.reason) == (state, f"{state} by the test")
