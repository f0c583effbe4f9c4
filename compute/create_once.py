"""Creating a remote object (a Batch job, a Kubernetes Job) at most once, though answers get lost.

A create call whose answer never came back (a read timeout, a dropped connection, a 5xx) may have
created the object; sending it again blindly can make a second one that nobody tracks. So the
object carries a name of its own (the same in every attempt), and `create_once` tries again only
after looking for it under that name: found, it is the one created, and it is returned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


def create_once(
    create: Callable[[], T],
    find: Callable[[], T | None],
    *,
    retryable: Callable[[Exception], bool],
    unclear: Callable[[Exception], bool],
    attempts: int,
    pause_seconds: float,
    what: str,
) -> T:
    """`create()`, up to `attempts` times while its failures are `retryable`; after an `unclear` one
    (the object may exist) `find()` is asked first. The pause before the next attempt (or the look)
    grows with each attempt; it also gives an eventually consistent listing time to show the object."""
    for attempt in range(1, attempts + 1):
        try:
            return create()
        except Exception as exc:
            if not retryable(exc):
                raise
            doubt = unclear(exc)
            if doubt or attempt < attempts:
                time.sleep(pause_seconds * attempt)
            if doubt and (found := find()) is not None:
                logger.info("%s: created after all (%s); not created again", what, exc)
                return found
            if attempt == attempts:
                raise
            logger.warning("%s: creating failed (%s); trying again", what, exc)
    raise AssertionError("unreachable")
