"""Campaigns through the database and storage: shards scored idempotently, finalised into counts,
summaries and hits; the API and pages; downloads; team scoping."""

import csv
import io
import json
import re

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rdkit import Chem

from models_registry import services as registry
from portal.teams.models import ApiToken
from portal.teams.services import api_token_create
from screening.campaigns import runner, services
from screening.campaigns.services import ModelChoice
from screening.models import Campaign, CampaignShard
from tests.access import ANONYMOUS, assert_api_access, assert_page_access

from .conftest import make_library


@pytest.fixture
def library(world, settings, solubility_smiles):
    settings.LIBRARY_SHARD_ROWS = 150
    lines = [f"{s} {name}" for s, name in solubility_smiles]
    lines[3] = f"{solubility_smiles[3][0]} <script>alert('x')</script>"
    return make_library(world, "\n".join(lines).encode(), "solubility.smi")


@pytest.fixture
def classifier(world, classification_archive):
    model = registry.model_create(team=world.alpha, name="soluble", task="classification", target_name="class")
    with classification_archive.open("rb") as archive:
        version = registry.version_register_archive(model=model, archive=archive, created_by=world.users["alice"])
    registry.alias_set(model=model, name="champion", version=version, moved_by=world.users["alice"])
    return version


def start(world, library, *, models=None, queued=None, **kwargs) -> Campaign:
    return services.campaign_create(
        team=world.alpha, name="screen", library=library, user=world.users["amy"],
        models=models or [ModelChoice("solubility", "latest")], **kwargs,
    )  # fmt: skip


def run_all(campaign: Campaign) -> None:
    """What the shard jobs do, in-process (the worker tests run them in a real Celery worker)."""
    for index in campaign.shards.values_list("index", flat=True):
        runner.score_campaign_shard(campaign.pk, index)
    runner.finalise_campaign(campaign.pk)
    campaign.refresh_from_db()


def result_rows(campaign: Campaign) -> list[dict]:
    rows = []
    for shard in campaign.shards.order_by("index"):
        with default_storage.open(shard.result_path, "rb") as handle:
            rows += pq.read_table(io.BytesIO(handle.read())).to_pylist()
    return rows


def test_a_campaign_scores_every_compound_once_and_keeps_the_top_hits(
    world, library, alpha_version, classifier, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        campaign = start(
            world, library, top_k=50,
            models=[ModelChoice("solubility", "1", "max"), ModelChoice("soluble", "champion")],
            filters={"exclude_alerts": ["pains"], "properties": {"mw": {"max": 450}}},
        )  # fmt: skip
    assert len(dispatched) == 1  # the shard jobs are dispatched only once the campaign is committed
    assert [m.requested for m in campaign.models.order_by("position")] == ["solubility@1", "soluble@champion"]
    assert campaign.models.get(position=1).version == classifier  # the alias is resolved and recorded
    assert campaign.shards.count() == library.shards.count() == 4

    run_all(campaign)
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    assert campaign.compounds == library.compounds == campaign.scored + campaign.filtered + campaign.failed
    assert campaign.filtered > 0
    assert sum(campaign.filter_reasons["filtered"].values()) == campaign.filtered
    rows = result_rows(campaign)
    assert sorted(r["row"] for r in rows) == list(range(library.compounds))
    scored = [r for r in rows if r["status"] == "scored"]
    assert len(scored) == campaign.scored == campaign.summary["0"]["count"] == campaign.summary["1"]["count"]
    classes = len(classifier.manifest["classes"])
    assert {r["score_1"] for r in scored} <= set(range(classes))  # multi-class: the most probable class

    hits = list(campaign.hits.order_by("rank"))
    best = sorted(scored, key=lambda r: (-r["score_0"], r["row"]))[:50]
    assert [h.row for h in hits] == [r["row"] for r in best]
    assert [h.scores["1"] for h in hits] == pytest.approx([r["score_1"] for r in best])
    assert all(h.properties["mw"] <= 450 and not h.has_pains for h in hits)

    # A shard job delivered again (a redelivered task, a second array child) changes nothing.
    before = list(campaign.shards.values_list("index", "scored", "filtered", "failed", "attempts"))
    assert runner.score_campaign_shard(campaign.pk, 0).startswith("skipped")
    assert runner.finalise_campaign(campaign.pk).startswith("skipped")
    assert list(campaign.shards.values_list("index", "scored", "filtered", "failed", "attempts")) == before


def test_a_shard_redone_after_its_worker_died_counts_once(world, library, alpha_version):
    campaign = start(world, library)
    # The first attempt got as far as claiming shard 1, then its worker was killed.
    runner._claim(campaign.pk, 1)
    assert CampaignShard.objects.get(campaign=campaign, index=1).status == CampaignShard.Status.RUNNING
    run_all(campaign)
    assert campaign.status == Campaign.Status.SUCCEEDED
    assert CampaignShard.objects.get(campaign=campaign, index=1).attempts == 2
    rows = result_rows(campaign)
    assert len(rows) == len({r["row"] for r in rows}) == library.compounds == campaign.compounds


def test_failed_shards_fail_the_campaign_and_can_be_retried(world, library, alpha_version, settings):
    settings.CAMPAIGN_SHARD_ATTEMPTS = 2
    campaign = start(world, library)
    broken = campaign.shards.get(index=2).library_shard
    with default_storage.open(broken.path, "rb") as handle:
        original = handle.read()
    default_storage.delete(broken.path)
    default_storage.save(broken.path, ContentFile(b"not parquet"))
    for attempt in (1, 2):
        with pytest.raises(runner.ShardFailed) as caught:
            runner.score_campaign_shard(campaign.pk, 2)
        assert caught.value.final == (attempt == 2)
    run_all(campaign)
    assert campaign.status == Campaign.Status.FAILED
    assert "1 of 4 shards failed (shard 2" in campaign.error

    default_storage.delete(broken.path)
    default_storage.save(broken.path, ContentFile(original))
    assert services.campaign_retry(campaign=campaign) == 1
    run_all(campaign)
    assert campaign.status == Campaign.Status.SUCCEEDED
    assert campaign.compounds == library.compounds


def test_cancel_stops_the_shard_jobs(world, library, alpha_version):
    campaign = start(world, library)
    runner.score_campaign_shard(campaign.pk, 0)
    assert services.campaign_cancel(campaign=campaign)
    assert runner.score_campaign_shard(campaign.pk, 1) == "skipped: campaign is cancelled"
    assert not services.campaign_cancel(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"models": [ModelChoice("nope")]}, "models"),
        ({"models": [ModelChoice("solubility", "champion")]}, "models"),  # no such alias
        ({"filters": {"substructure": "[[["}}, "filters"),
        ({"top_k": 10**9}, "top_k"),
    ],
)
def test_bad_campaigns_are_refused_naming_the_field(world, library, alpha_version, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        start(world, library, **kwargs)
    assert field in caught.value.message_dict


def test_foreign_libraries_and_models_cannot_be_screened(world, library, alpha_version, solubility_smiles):
    foreign = make_library(world, b"CCO ethanol\n", "b.smi", team=world.beta)
    with pytest.raises(ValidationError, match="another team"):
        start(world, foreign)
    with pytest.raises(ValidationError) as caught:
        services.campaign_create(
            team=world.beta, name="x", library=foreign, user=world.users["bob"], models=[ModelChoice("solubility")]
        )
    assert "No model named 'solubility'" in str(caught.value)


@pytest.fixture
def finished(world, library, alpha_version):
    campaign = start(world, library, top_k=40)
    run_all(campaign)
    return campaign


def test_api_creates_lists_and_scopes_campaigns(world, library, alpha_version, django_capture_on_commit_callbacks):
    payload = {
        "team": "alpha", "name": "api screen", "library": library.pk,
        "models": [{"model": "solubility", "version": "latest"}], "filters": {"lipinski": True}, "top_k": 10,
    }  # fmt: skip
    world.tokens["amy-readonly"] = api_token_create(user=world.users["amy"], name="ro", scope=ApiToken.Scope.READ).raw
    assert_api_access(
        world, method="post", url="/api/campaigns/", data=payload,
        expect={ANONYMOUS: 401, "bob": 400, "amy-readonly": 403},
        unchanged=lambda: Campaign.objects.count(),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        response = world.api("amy").post("/api/campaigns/", payload, format="json")
    assert response.status_code == 201, response.data
    body = response.data
    assert body["status"] == "queued"
    assert body["filters"] == {"lipinski": True}
    assert body["models"][0]["requested"] == "solubility@latest"
    assert body["progress"]["compounds"] == library.compounds
    url = f"/api/campaigns/{body['id']}/"
    assert_api_access(world, method="get", url=url, expect={"alice": 200, "amy": 200, "bob": 404, ANONYMOUS: 401})
    assert_api_access(world, method="get", url=f"{url}shards/", expect={"alice": 200, "bob": 404})
    assert_api_access(world, method="post", url=f"{url}cancel/", expect={"bob": 404, "amy-readonly": 403})
    assert world.api("bob").get("/api/campaigns/").data["count"] == 0

    bad = world.api("amy").post("/api/campaigns/", {**payload, "filters": {"mw": 3}}, format="json")
    assert bad.status_code == 400
    assert "filters" in bad.json()["error"]["fields"]


def test_hits_api_sorts_and_filters_server_side(world, finished):
    url = f"/api/campaigns/{finished.pk}/hits/"
    client = world.api("amy")
    ranked = client.get(url, {"page_size": 100}).data
    assert ranked["count"] == 40
    scores = [h["score"] for h in ranked["results"]]
    assert scores == sorted(scores, reverse=True)
    ascending = client.get(url, {"order": "score_0", "page_size": 100}).data["results"]
    assert [h["score"] for h in ascending] == sorted(scores)
    middle = sorted(scores)[20]
    bounded = client.get(url, {"min_score": middle, "page_size": 100}).data["results"]
    assert bounded
    assert all(h["score"] >= middle for h in bounded)
    assert len(bounded) < 40
    ring = client.get(url, {"substructure": "c1ccccc1", "page_size": 100}).data["results"]
    pattern = Chem.MolFromSmarts("c1ccccc1")
    expected = [h for h in ranked["results"] if Chem.MolFromSmiles(h["smiles"]).HasSubstructMatch(pattern)]
    assert [h["rank"] for h in ring] == [h["rank"] for h in expected]
    clean = client.get(url, {"alerts": "none", "page_size": 100}).data["results"]
    assert all(not h["alerts"] for h in clean)
    assert client.get(url, {"order": "colour"}).status_code == 400
    assert client.get(url, {"substructure": "[[["}).status_code == 400
    assert client.get(url, {"min_score": "high"}).status_code == 400
    assert world.api("bob").get(url).status_code == 404


def _download(world, campaign, actor="amy", **params):
    response = world.browser(actor).get(f"/campaigns/{campaign.pk}/download/", params)
    if response.status_code != 200:
        return response, b""
    return response, b"".join(response.streaming_content)


def test_downloads_stream_every_compound_or_the_hits(world, finished, library):
    response, body = _download(world, finished, set="all", file_format="csv")
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{finished.pk}-all.csv"'
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == library.compounds
    assert {"row", "name", "smiles", "status", "reason", "solubility v1 score"} <= set(rows[0])
    assert sum(r["status"] == "scored" for r in rows) == finished.scored

    _, body = _download(world, finished, set="hits", file_format="csv")
    hits = list(csv.DictReader(io.StringIO(body.decode())))
    assert [int(h["row"]) for h in hits] == list(finished.hits.order_by("rank").values_list("row", flat=True))

    _, body = _download(world, finished, set="scored", file_format="parquet")
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == finished.scored
    assert "solubility v1 score" in table.column_names

    _, body = _download(world, finished, set="hits", file_format="sdf")
    supplier = Chem.ForwardSDMolSupplier(io.BytesIO(body))
    molecules = [m for m in supplier]
    assert len(molecules) == 40
    assert all(m is not None for m in molecules)
    assert float(molecules[0].GetProp("solubility v1 score")) == pytest.approx(finished.hits.get(rank=1).score)

    assert _download(world, finished, "bob", set="all", file_format="csv")[0].status_code == 404
    assert _download(world, finished, set="everything", file_format="csv")[0].status_code == 400
    api = world.api("alice").get(f"/api/campaigns/{finished.pk}/download/", {"set": "hits", "file_format": "csv"})
    assert api.status_code == 200
    assert b"".join(api.streaming_content).count(b"\n") == 41


def test_results_page_shows_summaries_hits_and_escapes_names(world, finished):
    assert_page_access(
        world, url=f"/campaigns/{finished.pk}/", expect={"alice": 200, "amy": 200, "bob": 404, ANONYMOUS: 302}
    )
    page = world.browser("amy").get(f"/campaigns/{finished.pk}/", {"order": "-score_0"}).content.decode()
    assert page.count('data-testid="model-summary"') == 1
    assert page.count('<img src="data:image/svg+xml;base64,') == 25  # one page of hits with structures
    assert "<script>alert" not in page
    filtered = world.browser("amy").get(f"/campaigns/{finished.pk}/", {"substructure": "[[["}).content.decode()
    assert "is not valid SMARTS" in filtered
    json_progress = world.browser("amy").get(f"/campaigns/{finished.pk}/", HTTP_ACCEPT="application/json").json()
    assert json_progress["progress"]["fraction"] == 1.0
    assert json_progress["status"] == "succeeded"


def test_escaped_names_in_hits_and_page(world, library, alpha_version):
    campaign = start(world, library, top_k=600)
    run_all(campaign)
    hit = campaign.hits.filter(name__contains="<script>").first()
    assert hit is not None
    page = world.browser("amy").get(f"/campaigns/{campaign.pk}/", {"order": "name"}).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page


def test_campaign_form_starts_a_campaign(world, library, alpha_version, django_capture_on_commit_callbacks):
    browser = world.browser("amy")
    assert library.name in browser.get("/campaigns/").content.decode()
    form = {
        "name": "from the page", "library": library.pk, "model_0": "solubility", "version_0": "latest",
        "direction_0": "max", "direction_1": "max", "direction_2": "max", "top_k": 20, "exclude_pains": "on",
        "mw_max": "500", "executor": "celery",
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        response = browser.post("/campaigns/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    campaign = Campaign.objects.get(name="from the page")
    assert campaign.filters == {"exclude_alerts": ["pains"], "properties": {"mw": {"max": 500.0}}}
    refused = browser.post("/campaigns/", {**form, "substructure": "[[["})
    assert refused.status_code == 200
    assert "not valid SMARTS" in refused.content.decode()
    assert json.dumps(campaign.filters)


def test_reconcile_redoes_shards_whose_worker_went_silent(world, library, alpha_version, settings):
    from datetime import timedelta

    from django.utils import timezone

    from screening.campaigns import tasks

    campaign = start(world, library)
    runner._claim(campaign.pk, 0)  # its worker then died without a trace
    CampaignShard.objects.filter(campaign=campaign, index=0).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.CAMPAIGN_SHARD_STALE_SECONDS + 5)
    )
    runner._claim(campaign.pk, 1)  # this one is alive
    result = tasks.campaign_reconcile.apply().get()
    assert result["requeued"] == 1
    states = dict(campaign.shards.values_list("index", "status"))
    assert states[0] == CampaignShard.Status.PENDING
    assert states[1] == CampaignShard.Status.RUNNING
    run_all(campaign)
    assert campaign.status == Campaign.Status.SUCCEEDED


def test_batch_needs_its_queue_configured(world, library, alpha_version, settings):
    settings.AWS_BATCH_JOB_QUEUE = ""
    with pytest.raises(ValidationError, match="AWS_BATCH_JOB_QUEUE"):
        start(world, library, executor="batch")


def executor_options(world) -> list[str]:
    page = world.browser("amy").get("/campaigns/").content.decode()
    select = re.search(r'<select name="executor".*?</select>', page, re.S).group(0)
    return re.findall(r'<option value="([^"]+)"', select)


def test_executors_that_are_not_configured_are_refused_and_not_offered(
    world, library, alpha_version, settings, monkeypatch, tmp_path
):
    """Kubernetes needs a cluster (its service account) or a kubeconfig; AWS Batch its job queue."""
    from kubernetes.config import kube_config

    settings.AWS_BATCH_JOB_QUEUE = ""
    settings.KUBERNETES_IN_CLUSTER = False
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "no-kubeconfig"))
    payload = {
        "team": "alpha", "name": "k8s", "library": library.pk, "models": [{"model": "solubility"}],
        "executor": "kubernetes",
    }  # fmt: skip
    response = world.api("amy").post("/api/campaigns/", payload, format="json")
    assert response.status_code == 400
    assert "Kubernetes is not configured here" in response.json()["error"]["fields"]["executor"][0]
    assert world.api("amy").post("/api/campaigns/", {**payload, "executor": "batch"}, format="json").status_code == 400
    assert Campaign.objects.count() == 0
    assert executor_options(world) == ["celery"]
    page = world.browser("amy").get("/campaigns/").content.decode()
    assert "Not configured here: AWS Batch array job, Kubernetes indexed Job." in page
    refused = world.browser("amy").post("/campaigns/", {"executor": "kubernetes"}).content.decode()
    assert "Select a valid choice. kubernetes is not one of the available choices." in refused

    # A kubeconfig (KUBECONFIG, or ~/.kube/config) makes Kubernetes usable; a job queue, Batch.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", f"{tmp_path / 'missing'}:{kubeconfig}")
    settings.AWS_BATCH_JOB_QUEUE = "portal-jobs"
    assert executor_options(world) == ["celery", "batch", "kubernetes"]
    # In a cluster, the pod's service account is what counts.
    settings.KUBERNETES_IN_CLUSTER = True
    assert "kubernetes" not in executor_options(world)  # no service account is mounted here


def test_the_demo_gets_a_library_to_screen_once(db, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    from screening.models import Library

    call_command("seed_demo", password="demo-password-for-tests")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        call_command("seed_demo_library")
        call_command("seed_demo_library")
    library = Library.objects.get(team__slug="demo")
    assert len(queued) == 1
    assert library.filename == "first_5K.smi"
    assert library.upload_bytes > 100_000
