"""Campaigns in a real Celery worker on Redis: dispatch, progress, finalise; and a worker process
killed with SIGKILL mid-shard, after which every compound is still scored exactly once."""

import io
import os
import signal
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.files.storage import default_storage
from rdkit import RDConfig

from screening.campaigns import services
from screening.campaigns.services import ModelChoice
from screening.models import Campaign, CampaignShard
from tests.processes import child_pids

from .conftest import make_library

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
pytestmark = [pytest.mark.worker, pytest.mark.slow]


def wait_for(campaign: Campaign, timeout: float = 120) -> Campaign:
    deadline = time.monotonic() + timeout
    while True:
        campaign.refresh_from_db()
        if campaign.status not in Campaign.ACTIVE:
            return campaign
        assert time.monotonic() < deadline, f"campaign still {campaign.status}"
        time.sleep(0.2)


def scored_rows(campaign: Campaign) -> list[int]:
    rows = []
    for path in campaign.shards.order_by("index").values_list("result_path", flat=True):
        with default_storage.open(path, "rb") as handle:
            rows += pq.read_table(io.BytesIO(handle.read()), columns=["row"]).column("row").to_pylist()
    return rows


@pytest.fixture
def nci_library(world):
    return make_library(world, NCI.read_bytes(), "first_5K.smi", by_worker=True)


def test_campaign_runs_in_a_real_worker(celery_worker_process, transactional_db, world, nci_library, alpha_version):
    response = world.api("amy").post(
        "/api/campaigns/",
        {
            "team": "alpha",
            "name": "worker",
            "library": nci_library.pk,
            "models": [{"model": "solubility"}],
            "top_k": 30,
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    campaign = wait_for(Campaign.objects.get(pk=response.data["id"]))
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    assert campaign.compounds == nci_library.compounds == campaign.scored + campaign.failed
    assert campaign.hits.count() == 30
    body = world.api("amy").get(f"/api/campaigns/{campaign.pk}/").json()
    assert body["progress"]["fraction"] == 1.0
    assert body["progress"]["shards"]["done"] == nci_library.shards.count()
    assert body["progress"]["compounds_per_second"] > 0


def test_a_worker_killed_mid_shard_loses_nothing(celery_worker_process, transactional_db, world, alpha_version):
    """SIGKILL the pool process while it scores a shard: the task is redelivered (late ack, rejected on
    worker loss), the shard is redone, and each compound is scored exactly once."""
    library = make_library(world, NCI.read_bytes(), "first_5K.smi", by_worker=True)
    killed = None
    for _attempt in range(3):  # the kill must land while a shard runs; retry if a shard was too quick
        campaign = services.campaign_create(
            team=world.alpha, name="kill", library=library, user=world.users["amy"],
            models=[ModelChoice("solubility")], top_k=10,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not CampaignShard.objects.filter(campaign=campaign, status="running").exists():
            assert time.monotonic() < deadline, "no shard started"
            time.sleep(0.01)
        running = CampaignShard.objects.filter(campaign=campaign, status="running").first()
        for pid in child_pids(celery_worker_process.pid):
            os.kill(pid, signal.SIGKILL)
        campaign = wait_for(campaign)
        assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
        rows = scored_rows(campaign)
        assert sorted(rows) == list(range(library.compounds))  # every compound once, none twice
        assert campaign.compounds == library.compounds
        if running is not None and CampaignShard.objects.get(pk=running.pk).attempts >= 2:
            killed = running
            break
    assert killed is not None, "the kill never landed mid-shard"
    assert celery_worker_process.poll() is None  # the worker itself lives on with a new pool process
