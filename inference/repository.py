"""The models this server serves: each configured version is fetched, verified, loaded and warmed
with one prediction before it is AVAILABLE; one that fails is FAILED with the reason, and the server
is ready only once every version is AVAILABLE."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chemcore.package import PackageError, PackageIntegrityError, verified_local_copy
from chemcore.predictor import PredictionBatch, Predictor

from .batching import DynamicBatcher
from .config import ModelSpec, Settings
from .errors import NotFound, NotReady
from .sources import SourceError, archive_opener

log = logging.getLogger(__name__)

LOADING, AVAILABLE, FAILED = "LOADING", "AVAILABLE", "FAILED"
WARM_UP_SMILES = "CCO"


@dataclass(eq=False)
class ServedModel:
    spec: ModelSpec
    state: str = LOADING
    reason: str | None = None
    error_code: str = "OK"  # TensorFlow Serving's status code for the state
    predictor: Predictor | None = None
    batcher: DynamicBatcher | None = None
    has_uncertainty: bool = False
    load_seconds: float | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return str(self.spec.version)

    def predict(self, smiles: list[str]) -> PredictionBatch:
        """One model call for all of `smiles` (the batching thread's, or a request's when batching is off)."""
        assert self.predictor is not None
        return self.predictor.predict_all(smiles, batch_size=max(1, len(smiles)))

    def unavailable_reason(self) -> str | None:
        """Why the version cannot predict yet (None once it is AVAILABLE)."""
        if self.state == LOADING:
            return f"model {self.name} version {self.version} is still loading"
        if self.state == FAILED:
            return f"model {self.name} version {self.version} failed to load: {self.reason}"
        return None

    def require_available(self) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise NotReady(reason)


class ModelRepository:
    def __init__(self, specs: tuple[ModelSpec, ...]) -> None:
        self.models = [ServedModel(spec) for spec in specs]

    @property
    def ready(self) -> bool:
        return all(model.state == AVAILABLE for model in self.models)

    def not_ready_reasons(self) -> list[str]:
        reasons = []
        for model in self.models:
            if model.state == LOADING:
                reasons.append(f"{model.name} version {model.version} is loading")
            elif model.state == FAILED:
                reasons.append(f"{model.name} version {model.version} failed to load: {model.reason}")
        return reasons

    def names(self) -> list[str]:
        return sorted({model.name for model in self.models})

    def versions_of(self, name: str) -> list[ServedModel]:
        versions = sorted((m for m in self.models if m.name == name), key=lambda m: m.spec.version)
        if not versions:
            served = ", ".join(self.names())
            raise NotFound(f"model {name!r} is not served here (served: {served})")
        return versions

    def find(self, name: str, version: str | None = None, label: str | None = None) -> ServedModel:
        """A version by number, by label, or (neither given) the latest."""
        versions = self.versions_of(name)
        if label is not None:
            for model in versions:
                if label in model.spec.labels:
                    return model
            known = ", ".join(sorted(lbl for m in versions for lbl in m.spec.labels)) or "none"
            raise NotFound(f"model {name!r} has no label {label!r} (labels: {known})")
        if version is None:
            return versions[-1]
        for model in versions:
            if model.version == version:
                return model
        known = ", ".join(m.version for m in versions)
        raise NotFound(f"model {name!r} has no version {version!r} (versions: {known})")

    def load_all(self, settings: Settings, *, on_loaded: Callable[[ServedModel], None] | None = None) -> None:
        for model in self.models:
            load_model(model, settings)
            if on_loaded is not None:
                on_loaded(model)

    def start_loading(self, settings: Settings, *, on_loaded: Callable[[ServedModel], None] | None = None) -> None:
        """Load in the background: the process answers liveness (and "not ready") meanwhile."""
        threading.Thread(
            target=self.load_all, args=(settings,), kwargs={"on_loaded": on_loaded}, name="model-loader", daemon=True
        ).start()


def load_model(model: ServedModel, settings: Settings) -> None:
    """Fetch and verify the archive (once per machine), load the package and warm it; the model ends
    AVAILABLE or FAILED with the reason."""
    spec, started = model.spec, time.monotonic()
    label = f"{spec.name} version {spec.version} ({spec.uri})"
    try:
        directory = verified_local_copy(
            archive_opener(spec.uri),
            sha256=spec.sha256,
            cache_dir=settings.cache_dir,
            max_bytes=settings.max_package_bytes,
            label=label,
        )
        predictor = Predictor.load(directory)
        warm = predictor.predict_all([WARM_UP_SMILES])
        if not warm.valid[0]:
            raise PackageError(f"the warm-up prediction of {WARM_UP_SMILES} failed: {warm.errors[0]}")
    except SourceError as exc:
        _fail(model, str(exc), "NOT_FOUND" if "not found" in str(exc) else "UNAVAILABLE")
        return
    except PackageIntegrityError as exc:
        _fail(model, str(exc), "DATA_LOSS")
        return
    except PackageError as exc:
        _fail(model, f"{label}: {exc}", "FAILED_PRECONDITION")
        return
    except Exception as exc:
        log.exception("loading %s failed", label)
        _fail(model, f"{label}: {type(exc).__name__}: {exc}", "UNKNOWN")
        return
    model.predictor = predictor
    model.has_uncertainty = not math.isnan(warm.uncertainty[0])
    if settings.dynamic_batching:
        model.batcher = DynamicBatcher(
            model.predict,
            max_batch_size=settings.max_batch_size,
            max_delay_seconds=settings.max_batch_delay_seconds,
            name=spec.key,
            on_batch=_batch_observer(spec.name),
        )
        model.batcher.start()
    model.load_seconds = time.monotonic() - started
    model.state = AVAILABLE
    for warning in predictor.loaded.warnings:
        log.warning("%s: %s", label, warning)
    log.info("loaded %s in %.2f s", label, model.load_seconds)


def _fail(model: ServedModel, reason: str, code: str) -> None:
    model.reason, model.error_code, model.state = reason, code, FAILED
    log.error("model %s version %s failed to load: %s", model.name, model.version, reason)


def _batch_observer(name: str) -> Callable[[int], None]:
    from .metrics import BATCH_SIZE

    histogram = BATCH_SIZE.labels(model=name)
    return histogram.observe
