"""The one way logic queues work: Celery tasks sent by name, after the surrounding transaction commits.

Logic never imports a `tasks` module (tasks import logic, and the import contracts in pyproject.toml
check it), so there is no import cycle between them; the name also picks the queue through
`CELERY_TASK_ROUTES`. `tests/portal/test_queueing.py` checks that every name sent here is a task the
worker knows.

    queueing.send_after_commit("screening.tasks.library_ingest", library.pk)
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from .celery import app

logger = logging.getLogger(__name__)


def send(name: str, *args: Any, **options: Any) -> None:
    """Queue task `name` with positional `args` now (options as for `apply_async`: countdown, queue…).
    Raises when the broker cannot be reached."""
    # Nothing waits for the result of work queued by name: not subscribing to it spares the sender
    # the result backend's reconnect retries (tens of seconds) while Redis is down.
    options.setdefault("ignore_result", True)
    app.send_task(name, args=args, **options)


def try_send(name: str, *args: Any, **options: Any) -> bool:
    """`send`, but a broker that cannot be reached is logged and reported as False: for work a
    periodic reconcile finds and queues again."""
    try:
        send(name, *args, **options)
    except Exception:
        logger.warning("could not queue %s%r; the reconcile will", name, args, exc_info=True)
        return False
    return True


def send_after_commit(name: str, *args: Any, **options: Any) -> None:
    """`send` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send(name, *args, **options))


def try_send_after_commit(name: str, *args: Any, **options: Any) -> None:
    """`try_send` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: try_send(name, *args, **options))
