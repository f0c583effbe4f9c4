"""Dynamic batching: concurrent requests for one model are gathered into one model call.

Each model has one batching thread. A request's SMILES become one or more jobs (at most
`max_batch_size` molecules each) on the model's queue. The thread takes the oldest job, then keeps
taking queued jobs until the batch is full or `max_delay_seconds` have passed since that oldest job
arrived; while a batch runs, new jobs queue up and form the next one, so under load batches grow
without any added delay. Molecules that fail are per-molecule errors in the result; a model call
that raises is retried job by job, so one request's failure never fails the others.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import numpy as np

from chemcore.predictor import PredictionBatch

from .errors import DeadlineExceeded

log = logging.getLogger(__name__)

PredictFunction = Callable[[list[str]], PredictionBatch]


def slice_batch(batch: PredictionBatch, start: int, stop: int) -> PredictionBatch:
    return PredictionBatch(
        batch.value[start:stop],
        batch.uncertainty[start:stop],
        None if batch.probabilities is None else batch.probabilities[start:stop],
        batch.valid[start:stop],
        batch.errors[start:stop],
        batch.smiles[start:stop],
    )


def concat_batches(parts: list[PredictionBatch], n_classes: int | None) -> PredictionBatch:
    return parts[0] if len(parts) == 1 else PredictionBatch.concat(parts, n_classes)


@dataclass(eq=False)
class _Job:
    smiles: list[str]
    deadline: float
    enqueued: float = field(default_factory=time.monotonic)
    future: Future = field(default_factory=Future)


class DynamicBatcher:
    def __init__(
        self,
        predict: PredictFunction,
        *,
        max_batch_size: int,
        max_delay_seconds: float,
        name: str = "model",
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._predict = predict
        self.max_batch_size = max_batch_size
        self.max_delay_seconds = max_delay_seconds
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._carry: _Job | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"batcher-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 10) -> None:
        """Finish the queued work, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def predict(self, smiles: list[str], deadline: float) -> list[PredictionBatch]:
        """Results for `smiles` in order (one part per job); DeadlineExceeded once `deadline`
        (time.monotonic()) has passed."""
        jobs = [
            _Job(smiles[start : start + self.max_batch_size], deadline)
            for start in range(0, len(smiles), self.max_batch_size)
        ]
        for job in jobs:
            self._queue.put(job)
        parts = []
        try:
            for job in jobs:
                parts.append(job.future.result(timeout=max(0.0, deadline - time.monotonic())))
        except FutureTimeout:
            for job in jobs:
                job.future.cancel()  # not started yet: the batching thread skips it
            raise DeadlineExceeded("the request took longer than its time budget") from None
        return parts

    def _next_batch(self) -> list[_Job]:
        first = self._carry if self._carry is not None else self._queue.get()
        self._carry = None
        if first is None:
            self._stopping = True
            return []
        jobs, size = [first], len(first.smiles)
        close_at = first.enqueued + self.max_delay_seconds
        while size < self.max_batch_size:
            try:
                remaining = close_at - time.monotonic()
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._stopping = True
                break
            if size + len(job.smiles) > self.max_batch_size:
                self._carry = job
                break
            jobs.append(job)
            size += len(job.smiles)
        return jobs

    def _run(self) -> None:
        while not (self._stopping and self._carry is None):
            jobs = self._next_batch()
            now = time.monotonic()
            live = []
            for job in jobs:
                if not job.future.set_running_or_notify_cancel():
                    continue  # its request gave up waiting
                if job.deadline <= now:
                    job.future.set_exception(DeadlineExceeded("the request took longer than its time budget"))
                    continue
                live.append(job)
            if live:
                self._execute(live)

    def _execute(self, jobs: list[_Job]) -> None:
        smiles = [s for job in jobs for s in job.smiles]
        try:
            result = self._predict(smiles)
        except Exception as exc:
            if len(jobs) > 1:
                log.warning("a batch of %d requests failed (%s); retrying them one by one", len(jobs), exc)
                for job in jobs:
                    self._execute([job])
            else:
                jobs[0].future.set_exception(exc)
            return
        if self._on_batch is not None:
            self._on_batch(len(smiles))
        offset = 0
        for job in jobs:
            job.future.set_result(slice_batch(result, offset, offset + len(job.smiles)))
            offset += len(job.smiles)


def empty_batch(n: int, n_classes: int | None) -> PredictionBatch:
    """n rows with no prediction yet (NaN values, not valid)."""
    nan = np.full(n, np.nan)
    probs = None if n_classes is None else np.full((n, n_classes), np.nan)
    return PredictionBatch(nan, nan.copy(), probs, np.zeros(n, dtype=bool), [None] * n, [None] * n)
