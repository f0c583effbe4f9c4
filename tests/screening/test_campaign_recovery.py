"""Campaigns outlive their broker. A Redis restart loses the queued tasks of pending shards: the
reconcile sends them again (or a person does, with retry), and every compound ends scored exactly
once. A broker that refuses connections while a campaign is created or retried still gives the user
the campaign, which the reconcile starts once the broker is back.

The rules run against the test database; the outages against real processes: Redis servers the
tests start, kill (SIGKILL: no snapshot, the queues are gone) and start again empty, a Celery worker
with beat on them, and gunicorn serving the API."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis
import requests
from celery import Celery
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from rdkit import RDConfig

from screening.campaigns import reconcile, runner, services
from screening.models import Campaign, CampaignShard
from tests.processes import celery_worker_args, database_url, free_port, gunicorn, running, wait_until_ready

from .conftest import make_library
from .test_campaigns import library, run_all, start  # noqa: F401 (fixture)

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


def _age(campaign: Campaign, seconds: float, **where) -> None:
    """Pretend the shards' tasks were sent `seconds` ago."""
    CampaignShard.objects.filter(campaign=campaign, **where).update(
        dispatched_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_the_reconcile_sends_again_pending_shards_whose_task_is_gone(world, library, alpha_version, settings):  # noqa: F811
    bound = settings.CAMPAIGN_SHARD_RESEND_SECONDS
    campaign = start(world, library)  # its tasks were sent at creation (the commit never comes in this test)
    _age(campaign, bound + 5, index=0)  # sent once, long ago, never started: lost with the queue
    _age(campaign, bound * 1.5, index=1)
    CampaignShard.objects.filter(campaign=campaign, index=1).update(dispatches=2)  # resent once: waits 2x
    CampaignShard.objects.filter(campaign=campaign, index=2).update(dispatched_at=None)  # the broker refused it
    runner._claim(campaign.pk, 3)  # running: not the reconcile's to resend
    _age(campaign, bound * 10, index=3)

    result = reconcile.reconcile_campaigns()
    assert result["resent"] == 2
    assert result["requeued"] == 0
    shards = {s.index: s for s in campaign.shards.all()}
    assert shards[0].dispatches == 1
    assert shards[0].dispatched_at > timezone.now() - timedelta(seconds=30)
    assert shards[2].dispatched_at is not None
    assert shards[1].dispatched_at < timezone.now() - timedelta(seconds=bound)  # left to wait
    assert reconcile.reconcile_campaigns()["resent"] == 0  # sent just now: not again

    # Sent twice, scored once: the second delivery of a done shard changes nothing.
    run_all(campaign)
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    assert runner.score_campaign_shard(campaign.pk, 0).startswith("skipped")
    assert campaign.compounds == library.compounds
    assert list(campaign.shards.order_by("index").values_list("attempts", flat=True))[:3] == [1, 1, 1]


def test_a_stuck_campaign_can_be_retried_not_only_a_failed_one(world, library, alpha_version, settings):  # noqa: F811
    campaign = start(world, library)
    runner.score_campaign_shard(campaign.pk, 0)  # done
    runner._claim(campaign.pk, 1)  # its worker died: silent since
    CampaignShard.objects.filter(campaign=campaign, index=1).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.CAMPAIGN_SHARD_STALE_SECONDS + 5)
    )
    runner._claim(campaign.pk, 2)  # alive
    _age(campaign, settings.CAMPAIGN_SHARD_RESEND_SECONDS + 5, index=3)
    page = world.browser("amy").get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'data-testid="stuck" hidden' not in page  # the page offers to send the waiting shard again
    assert world.api("amy").get(f"/api/campaigns/{campaign.pk}/").json()["progress"]["stuck_shards"] == 1

    assert world.api("bob").post(f"/api/campaigns/{campaign.pk}/retry/").status_code == 404
    response = world.api("amy").post(f"/api/campaigns/{campaign.pk}/retry/")
    assert response.status_code == 200, response.json()
    assert response.json()["progress"]["stuck_shards"] == 0
    states = dict(campaign.shards.values_list("index", "status"))
    assert states == {0: "done", 1: "pending", 2: "running", 3: "pending"}

    runner.score_campaign_shard(campaign.pk, 1)
    runner.score_campaign_shard(campaign.pk, 3)
    refused = world.api("amy").post(f"/api/campaigns/{campaign.pk}/retry/")  # only the live shard is left
    assert refused.status_code == 400
    assert "every shard not yet done is running" in refused.json()["error"]["fields"]["status"][0]
    run_all(campaign)
    assert campaign.status == Campaign.Status.SUCCEEDED
    with pytest.raises(ValidationError, match="only failed, queued or running"):
        services.campaign_retry(campaign=campaign)


# Real outages: Redis killed and restarted under a worker; a broker that refuses connections.


class Broker:
    """A Redis server of the test's own on a free port; `restart` kills it and starts it again empty."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.restarts = 0
        self._stack = contextlib.ExitStack()
        self.process = None

    def _start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        log = self.directory / f"redis-{self.restarts}.log"
        self.process = self._stack.enter_context(running(args, env={}, log=log))
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            assert self.process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)

    def restart(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # no shutdown save: what was queued is gone
        self.process.wait()
        self.restarts += 1
        self._start()

    def __enter__(self) -> Broker:
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()


@contextlib.contextmanager
def worker_with_beat(env: dict[str, str], directory: Path) -> Iterator:
    """A worker for the screening queue with beat inside it, reconciling every 2 s."""
    log = directory / "worker.log"
    hostname = f"recovery-{os.getpid()}@localhost"
    args = celery_worker_args(hostname=hostname, queues="screening")
    args += ["--beat", "--schedule", str(directory / "beat-schedule")]
    with running(args, env=env, log=log) as process:
        probe = Celery("probe", broker=env["CELERY_BROKER_URL"], set_as_current=False)  # pings on that broker
        try:
            wait_until_ready(probe, hostname, process, log)
        finally:
            probe.close()
        process.log_path = log
        yield process


def process_env(broker_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "CELERY_BROKER_URL": broker_url,
        "CAMPAIGN_RECONCILE_SECONDS": "2",
        "CAMPAIGN_SHARD_RESEND_SECONDS": "30",
        "CAMPAIGN_SHARD_STALE_SECONDS": "30",
    }


def wait_for(campaign: Campaign, timeout: float) -> Campaign:
    deadline = time.monotonic() + timeout
    while True:
        campaign.refresh_from_db()
        if campaign.status not in Campaign.ACTIVE:
            return campaign
        shards = dict(campaign.shards.values_list("index", "status"))
        assert time.monotonic() < deadline, f"campaign still {campaign.status}: {shards}"
        time.sleep(0.3)


def create(url: str, world, source, name: str) -> requests.Response:
    payload = {"team": "alpha", "name": name, "library": source.pk, "models": [{"model": "solubility"}], "top_k": 10}
    headers = {"Authorization": f"Bearer {world.tokens['amy']}"}
    return requests.post(f"{url}/api/campaigns/", json=payload, headers=headers, timeout=60)


def restart_mid_campaign(broker: Broker, campaign_id: int) -> list[int]:
    """Kill Redis while the first shard runs (the others wait in its queue); returns the shards whose
    task was lost, once the running one has finished."""
    deadline = time.monotonic() + 60
    while not CampaignShard.objects.filter(campaign_id=campaign_id, status="running").exists():
        assert time.monotonic() < deadline, "no shard started"
        time.sleep(0.01)
    broker.restart()
    deadline = time.monotonic() + 60
    while CampaignShard.objects.filter(campaign_id=campaign_id, status="running").exists():
        assert time.monotonic() < deadline, "the running shard did not finish"
        time.sleep(0.1)
    lost = list(CampaignShard.objects.filter(campaign_id=campaign_id, status="pending").values_list("index", flat=True))
    assert lost, "every shard ran before the restart"
    return lost


def scored_once(campaign: Campaign, source) -> None:
    rows = []
    for path in campaign.shards.order_by("index").values_list("result_path", flat=True):
        with default_storage.open(path, "rb") as handle:
            rows += pq.read_table(io.BytesIO(handle.read()), columns=["row"]).column("row").to_pylist()
    assert sorted(rows) == list(range(source.compounds))  # every compound once, none twice
    assert campaign.compounds == source.compounds == campaign.scored + campaign.failed
    assert set(campaign.shards.values_list("status", flat=True)) == {"done"}


@pytest.fixture
def nci(world, celery_worker_process):
    # Ten shards, scored one at a time by a worker of concurrency 1: most wait in the queue.
    return make_library(world, NCI.read_bytes(), "nci.smi", by_worker=True, shard_rows=500)


@pytest.mark.worker
@pytest.mark.slow
def test_shards_lost_in_a_redis_restart_are_sent_again(transactional_db, world, nci, alpha_version, tmp_path):
    with (
        Broker(tmp_path) as broker,
        worker_with_beat(process_env(broker.url), tmp_path) as worker,
        gunicorn(env=process_env(broker.url), log=tmp_path / "web.log") as url,
    ):
        # The reconcile (beat, every 2 s) sends the lost shards again once 30 s have passed.
        response = create(url, world, nci, "redis restart")
        assert response.status_code == 201, response.text
        campaign = Campaign.objects.get(pk=response.json()["id"])
        lost = restart_mid_campaign(broker, campaign.pk)
        campaign = wait_for(campaign, timeout=120)
        assert campaign.status == Campaign.Status.SUCCEEDED, (campaign.error, worker.log_path.read_text()[-3000:])
        scored_once(campaign, nci)
        resends = set(campaign.shards.filter(index__in=lost).values_list("dispatches", flat=True))
        assert resends == {2}  # sent at creation, and once more by the reconcile

        # A person need not wait for it: retry sends the waiting shards at once.
        response = create(url, world, nci, "redis restart, retried")
        campaign = Campaign.objects.get(pk=response.json()["id"])
        lost = restart_mid_campaign(broker, campaign.pk)
        retried_at = timezone.now()
        headers = {"Authorization": f"Bearer {world.tokens['amy']}"}
        response = requests.post(f"{url}/api/campaigns/{campaign.pk}/retry/", headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        campaign = wait_for(campaign, timeout=120)
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    scored_once(campaign, nci)
    for shard in campaign.shards.filter(index__in=lost):
        assert shard.dispatched_at >= retried_at  # sent by the retry, not the reconcile
        assert shard.dispatches == 1


@pytest.mark.worker
@pytest.mark.slow
def test_a_broker_that_refuses_connections_still_gives_the_campaign(
    transactional_db, world, nci, alpha_version, tmp_path, settings
):
    """The web server's broker refuses connections (nothing listens on its port): creating and
    retrying answer as usual; the reconcile, on a broker that works, starts the shards later."""
    refused = process_env(f"redis://127.0.0.1:{free_port()}/0")
    with gunicorn(env=refused, log=tmp_path / "web.log") as url:
        response = create(url, world, nci, "broker down")
        assert response.status_code == 201, response.text
        campaign = Campaign.objects.get(pk=response.json()["id"])
        assert campaign.status == Campaign.Status.QUEUED
        assert set(campaign.shards.values_list("dispatched_at", flat=True)) == {None}  # known to be unsent

        result = reconcile.reconcile_campaigns()  # this process's broker works, and the session's worker serves it
        assert result["resent"] == campaign.shards.count() == 10
        campaign = wait_for(campaign, timeout=120)
        assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
        scored_once(campaign, nci)

        # A failed campaign retried while the broker refuses: 200, and the reconcile sends the shard.
        # (Created through the same server, so no task is sent: its shards are scored here.)
        settings.CAMPAIGN_SHARD_ATTEMPTS = 1
        failed = Campaign.objects.get(pk=create(url, world, nci, "fails, then retried").json()["id"])
        broken = failed.shards.get(index=4).library_shard
        with default_storage.open(broken.path, "rb") as handle:
            original = handle.read()
        default_storage.delete(broken.path)
        default_storage.save(broken.path, ContentFile(b"not parquet"))
        for index in failed.shards.values_list("index", flat=True):
            with contextlib.suppress(runner.ShardFailed):
                runner.score_campaign_shard(failed.pk, index)
        runner.finalise_campaign(failed.pk)
        failed.refresh_from_db()
        assert failed.status == Campaign.Status.FAILED, failed.error
        default_storage.delete(broken.path)
        default_storage.save(broken.path, ContentFile(original))

        headers = {"Authorization": f"Bearer {world.tokens['amy']}"}
        response = requests.post(f"{url}/api/campaigns/{failed.pk}/retry/", headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        assert failed.shards.get(index=4).dispatched_at is None
    assert reconcile.reconcile_campaigns()["resent"] == 1
    failed = wait_for(failed, timeout=120)
    assert failed.status == Campaign.Status.SUCCEEDED, failed.error
    scored_once(failed, nci)
