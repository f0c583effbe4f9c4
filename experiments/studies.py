"""The Optuna side of an experiment: one RDB storage per process on the portal's own database.

Every Optuna write (ask, tell, report, a retried trial) is made outside any Django transaction: on
SQLite (the demo) a Django transaction holds the file's write lock, and Optuna, on a connection of
its own, would wait for it forever. The experiment row lock therefore only guards decisions (how
many trials to start), and the trial rows record what Optuna has been told (`Trial.told`).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from typing import Any

import optuna
from django.conf import settings
from optuna.exceptions import UpdateFinishedTrialError
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState, create_trial
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from .core.optimiser import create_study, enqueue_warm_start, make_pruner, make_sampler
from .core.spec import ExperimentSpec, parse_spec

logger = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)

_lock = threading.Lock()
_storages: dict[str, BaseStorage] = {}
# Stands in while a study is loaded, until the real sampler (which needs the number of trials) is made.
_PLACEHOLDER_SAMPLER = optuna.samplers.RandomSampler()


def storage_url(database: dict[str, Any] | None = None) -> str:
    """The SQLAlchemy URL of a Django `DATABASES` entry (PostgreSQL through psycopg 3, or SQLite)."""
    db = database if database is not None else settings.DATABASES["default"]
    engine = db["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    if "postgresql" in engine:
        url = URL.create(
            "postgresql+psycopg",
            username=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or None,
            port=int(db["PORT"]) if db.get("PORT") else None,
            database=db["NAME"],
        )
        return url.render_as_string(hide_password=False)
    raise ValueError(f"HPO studies need PostgreSQL or SQLite, not {engine}")


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    options = settings.DATABASES["default"].get("OPTIONS") or {}
    connect_args = {key: options[key] for key in ("sslmode", "sslrootcert", "connect_timeout") if key in options}
    return {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 4, "connect_args": connect_args}


def get_storage() -> BaseStorage:
    """This process's Optuna storage (created once per database URL; tables are made if missing)."""
    url = storage_url()
    with _lock:
        storage = _storages.get(url)
        if storage is None:
            rdb = optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
            storage = _storages[url] = optuna.storages.get_storage(rdb)
        return storage


def create_tables(database: dict[str, Any]) -> None:
    """Make Optuna's tables in `database` (if missing) and let go of the connection at once."""
    url = storage_url(database)
    kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"poolclass": NullPool}
    storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    storage.engine.dispose()


def spec_of(experiment) -> ExperimentSpec:
    return parse_spec(experiment.spec)


def open_study(experiment, spec: ExperimentSpec | None = None) -> optuna.Study:
    """The experiment's study with its real sampler (for asking); created on first use.

    Every step opens it, so an existing study is loaded the short way: the same checks and the same
    sampler as `create_study` (seeded with the spec's seed + the number of trials so far), without its
    attempt to create the study first or its read of every trial just to count them.
    """
    spec = spec or spec_of(experiment)
    storage = get_storage()
    try:
        study = optuna.Study(experiment.study_name, storage, sampler=_PLACEHOLDER_SAMPLER, pruner=make_pruner(spec))
    except KeyError:  # not created yet
        return create_study(spec, storage, experiment.study_name)
    found = [d.name.lower() for d in study.directions]
    if found != spec.directions:
        raise ValueError(
            f"study {experiment.study_name!r} exists with directions {found}, but the spec has {spec.directions}"
        )
    study.sampler = make_sampler(spec, seed_offset=count_trials(storage, study._study_id))
    return study


def count_trials(storage: BaseStorage, study_id: int) -> int:
    """How many trials the study has (one COUNT on an RDB storage)."""
    engine = getattr(getattr(storage, "_backend", storage), "engine", None)
    if engine is None:
        return len(storage.get_all_trials(study_id, deepcopy=False))
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(models.TrialModel).where(models.TrialModel.study_id == study_id)
        ).scalar_one()


def light_study(experiment, spec: ExperimentSpec | None = None) -> optuna.Study:
    """The study with a sampler that costs nothing to build, for tell and report (which never sample)."""
    spec = spec or spec_of(experiment)
    return optuna.load_study(
        study_name=experiment.study_name,
        storage=get_storage(),
        sampler=optuna.samplers.RandomSampler(),
        pruner=make_pruner(spec),
    )


def warm_start(experiment, study: optuna.Study, params_list: Sequence[dict[str, Any]]) -> int:
    """Queue parameter sets to try first (idempotent: sets already queued or tried are skipped)."""
    return enqueue_warm_start(study, params_list)


def ask(study: optuna.Study) -> optuna.trial.Trial:
    return study.ask()


def create_retry(study: optuna.Study, optuna_trial_id: int, retry_of_number: int) -> FrozenTrial:
    """A new running trial with the parameters of a failed one (the retry's Optuna trial)."""
    storage = study._storage
    failed = storage.get_trial(optuna_trial_id)
    template = create_trial(
        state=TrialState.RUNNING,
        params=failed.params,
        distributions=failed.distributions,
        user_attrs={**failed.user_attrs, "retry_of": retry_of_number},
    )
    trial_id = storage.create_new_trial(study._study_id, template_trial=template)
    return storage.get_trial(trial_id)


OPTUNA_STATE = {
    "complete": TrialState.COMPLETE,
    "pruned": TrialState.PRUNED,
    "failed": TrialState.FAIL,
    "cancelled": TrialState.FAIL,
}


def tell(study: optuna.Study, number: int, state: str, values: Sequence[float] | None) -> None:
    """Finish the Optuna trial; a trial already finished is left as it is (so telling twice is harmless)."""
    optuna_state = OPTUNA_STATE[state]
    if optuna_state == TrialState.PRUNED and values:
        values = None  # Optuna takes a pruned trial's value from its last intermediate value
    told = list(values) if optuna_state == TrialState.COMPLETE and values is not None else None
    if optuna_state != TrialState.PRUNED and type(study.sampler).after_trial is BaseSampler.after_trial:
        _tell_directly(study, number, optuna_state, told)
        return
    study.tell(number, values=told, state=optuna_state, skip_if_finished=True)


def tell_trial(experiment, optuna_trial_id: int, number: int, state: str, values: Sequence[float] | None) -> None:
    """`tell` for a trial of `experiment` known by its Optuna id: a complete or failed trial is one
    write, without loading the study (what every finished trial costs the portal); a pruned one goes
    through `Study.tell`, which takes its value from the intermediate values."""
    optuna_state = OPTUNA_STATE[state]
    if optuna_state == TrialState.PRUNED:
        tell(light_study(experiment), number, state, values)
        return
    told = list(values) if optuna_state == TrialState.COMPLETE and values is not None else None
    _set_outcome(get_storage(), optuna_trial_id, len(experiment.spec["objective"]), optuna_state, told)


def _tell_directly(study: optuna.Study, number: int, state: TrialState, values: list[float] | None) -> None:
    """What `Study.tell(..., skip_if_finished=True)` does for a complete or failed trial when the sampler
    has nothing to do after a trial, in one write instead of reading the trial before and after it.

    The trials told here were asked (or made running for a retry), never left waiting in the queue.
    """
    study._thread_local.cached_all_trials = None
    storage = study._storage
    try:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    except KeyError as exc:
        raise ValueError(f"Cannot tell for trial with number {number} since it has not been created.") from exc
    _set_outcome(storage, trial_id, len(study.directions), state, values)


def _set_outcome(
    storage: BaseStorage, trial_id: int, n_objectives: int, state: TrialState, values: list[float] | None
) -> None:
    if state == TrialState.COMPLETE:
        if values is None:
            raise ValueError("No values were told. Values are required when state is TrialState.COMPLETE.")
        if any(math.isnan(float(v)) for v in values) or len(values) != n_objectives:
            raise ValueError(f"cannot tell values {values} to a study with {n_objectives} objective(s)")
        values = [float(v) for v in values]
    try:
        storage.set_trial_state_values(trial_id, state, values)
    except UpdateFinishedTrialError:  # already finished: skipped, as skip_if_finished does
        logger.debug("Optuna trial %s was already finished; not told again", trial_id)


def report(study: optuna.Study, optuna_trial_id: int, step: int, value: float) -> bool:
    """Record an intermediate value; True when the pruner says to stop the trial."""
    if len(study.directions) > 1:
        return False  # Optuna prunes single-objective studies only
    trial = optuna.trial.Trial(study, optuna_trial_id)
    trial.report(value, step)
    return trial.should_prune()


def running_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


def close_storages() -> None:
    """Close this process's Optuna database connections (e.g. before the database is dropped)."""
    with _lock:
        for storage in _storages.values():
            backend = getattr(storage, "_backend", storage)
            engine = getattr(backend, "engine", None)
            if engine is not None:
                engine.dispose()
        _storages.clear()
