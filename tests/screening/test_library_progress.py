"""Ingest progress is the fraction of the uploaded file read, so on a gzipped file too it moves with
the record count (the reader's own byte count is of the decompressed text, and only known at the end)."""

import gzip
import random
import threading
import time

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from screening import ingest, services
from screening.api.library_serializers import LibrarySerializer
from screening.models import Library

RECORDS = 30_000


def gzipped_library() -> bytes:
    """Simple molecules with long ids: megabytes of text that standardise quickly."""
    rng = random.Random(7)
    lines = (f"{'C' * (i % 30 + 1)}O compound-{i}-{rng.getrandbits(512):0128x}\n" for i in range(RECORDS))
    return gzip.compress("".join(lines).encode())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_progress_of_a_gzipped_file_moves_with_the_records(world, ingest_in_this_process):
    content = gzipped_library()
    library = services.library_create(
        team=world.alpha, name="gz", upload=ContentFile(content, name="big.smi.gz"), filename="big.smi.gz"
    )
    samples: list[tuple[int, float]] = []
    done = threading.Event()

    def watch() -> None:  # what a page polling the library sees, from another connection
        try:
            while not done.is_set():
                current = Library.objects.get(pk=library.pk)
                if current.status == Library.Status.INGESTING:
                    samples.append((current.records, LibrarySerializer(current).data["progress"]))
                time.sleep(0.02)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        ingest.library_ingest(library.pk)
    finally:
        done.set()
        watcher.join(10)
    library.refresh_from_db()
    assert library.status == Library.Status.READY, library.error
    assert library.records == RECORDS
    moving = sorted({sample for sample in samples if 0 < sample[0] < RECORDS})
    assert len(moving) >= 5, samples
    progress = [fraction for _, fraction in moving]
    assert progress == sorted(progress)
    assert len(set(progress)) >= 3, moving  # it moves
    for records, fraction in moving:
        # The reader reads ahead of the records it has yielded by its buffer (a few hundred KiB).
        assert abs(fraction - records / RECORDS) < 0.15, moving
    assert 0 < progress[0] < 0.5 < progress[-1] < 1
