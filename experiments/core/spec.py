"""The experiment spec: what an HPO experiment trains, on what data, over which search space, how.

    spec = parse_spec(yaml_or_json_text)          # or parse_spec(a_dict)
    spec.to_dict()                                 # normalised, defaults filled: what gets stored

Structure and types are checked by pydantic models (strict, unknown keys rejected so a typo is an
error rather than a silently ignored option); everything that depends on more than one field — a
condition on another parameter, a metric the chosen task reports, a sampler that cannot handle the
search space — is checked once the parts are valid. Every problem comes back in one `SpecError`,
each with the dotted path of its field. See SPEC.md beside this file for the format.

Model families, their parameters, metrics and split kinds come from the core trainer
(`chemcore.training`), so a spec is rejected here, at submission, for anything the
trainer would reject at the first trial.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib.util import find_spec
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import Field, ValidationError, field_validator, model_validator

from chemcore.featurisers import featuriser_from_spec
from chemcore.metrics import CLASSIFICATION_METRICS, DEFAULT_METRIC, DIRECTIONS, REGRESSION_METRICS
from chemcore.training.params import FAMILIES, SCHEMAS
from chemcore.training.params import validate_params as validate_family_params
from chemcore.training.prepare import DEFAULT_FEATURISER

from .errors import Loc, SpecError, problems, show, translate
from .loading import Format, load_text
from .parameters import Condition, ParamSpec, SpecModel, encode_value, param_set_errors, pattern, same_value

__all__ = [
    "BackendSpec",
    "BudgetSpec",
    "Condition",
    "DatasetSpec",
    "ExperimentSpec",
    "ModelSpec",
    "ObjectiveSpec",
    "ParamSpec",
    "PrunerSpec",
    "RegisterSpec",
    "ResourcesSpec",
    "SamplerSpec",
    "SpecError",
    "SplitSpec",
    "WarmStartSpec",
    "encode_value",
    "param_set_errors",
    "parse_spec",
    "same_value",
]

Task = Literal["regression", "classification"]
SplitKind = Literal["scaffold", "random"]
SamplerType = Literal["tpe", "gp", "cmaes", "random", "grid"]
PrunerType = Literal["median", "hyperband", "none"]
BackendType = Literal["local", "batch", "kubernetes"]
TASKS: tuple[str, ...] = get_args(Task)
SAMPLER_TYPES: tuple[str, ...] = get_args(SamplerType)
PRUNER_TYPES: tuple[str, ...] = get_args(PrunerType)
BACKEND_TYPES: tuple[str, ...] = get_args(BackendType)
METRICS_OF_TASK = {"regression": REGRESSION_METRICS, "classification": CLASSIFICATION_METRICS}

MAX_SEED = 2**32 - 1  # NumPy's RandomState, which Optuna's samplers use, takes seeds below 2**32
MAX_PARAMS = 100
MAX_GRID_POINTS = 100_000
DEFAULT_TRIAL_TIMEOUT = 3600

SAMPLER_OPTIONS: dict[str, tuple[str, ...]] = {
    "tpe": ("seed", "n_startup_trials", "n_ei_candidates", "multivariate", "group", "constant_liar"),
    "gp": ("seed", "n_startup_trials", "deterministic_objective"),
    "cmaes": ("seed", "n_startup_trials", "sigma0", "popsize", "with_margin", "use_separable_cma"),
    "random": ("seed",),
    "grid": ("seed",),
}
# Optuna 5.0's defaults, written into the stored spec so a later Optuna changing them does not
# silently change how a stored experiment resumes.
SAMPLER_DEFAULTS: dict[str, dict[str, Any]] = {
    "tpe": {"n_startup_trials": 10},
    "gp": {"n_startup_trials": 10},
    "cmaes": {"n_startup_trials": 1},
}
# Python packages a sampler imports when it first samples (GP: torch and scipy; CMA-ES: cmaes).
SAMPLER_REQUIRES: dict[str, tuple[str, ...]] = {"gp": ("torch", "scipy"), "cmaes": ("cmaes",)}
PRUNER_DEFAULTS: dict[str, dict[str, Any]] = {
    "median": {"n_startup_trials": 5, "n_warmup_steps": 0, "interval_steps": 1, "n_min_trials": 1},
    "hyperband": {"min_resource": 1, "max_resource": "auto", "reduction_factor": 3, "bootstrap_count": 0},
    "none": {},
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_IMAGE = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_S3 = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$")
_QUOTED_NAME = re.compile(r"(?:parameter|field) '([^']+)'")


# Models -------------------------------------------------------------------------------------------
Slug = Annotated[
    str,
    pattern(_NAME, "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, ≤ 100 characters"),
]
AliasName = Annotated[str, Field(max_length=50), pattern(_NAME, "lower-case letters, digits, '.', '_' or '-'")]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class SplitSpec(SpecModel):
    """Held-out split (and the fold assignment when `cv_folds` is set), as the core trainer takes it."""

    kind: SplitKind = "scaffold"
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    generic: bool = False


class DatasetSpec(SpecModel):
    """A compound library of the portal (by id) or a table at a storage key, s3:// URL or path."""

    library: int | None = Field(None, ge=1)
    location: str | None = Field(None, min_length=1, max_length=1024)
    target: Text
    smiles_column: Text | None = None
    task: Task = "regression"
    split: SplitSpec = Field(default_factory=SplitSpec)
    cv_folds: int | None = Field(None, ge=2, le=20)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.library is None) == (self.location is None):
            raise problems([((), "give exactly one of 'library' (a library id) or 'location' (a file)")])
        if self.location is not None and (problem := _location_problem(self.location)):
            raise problems([(("location",), problem)])
        return self

    def to_dict(self) -> dict[str, Any]:
        source = {"library": self.library} if self.library is not None else {"location": self.location}
        return {
            **source,
            "target": self.target,
            "smiles_column": self.smiles_column,
            "task": self.task,
            "split": self.split.model_dump(),
            "cv_folds": self.cv_folds,
        }


def _location_problem(location: str) -> str | None:
    if any(ch in location for ch in "\0\r\n"):
        return "must not contain NUL or line breaks"
    if "://" in location:
        return None if _S3.match(location) else "must be a storage key, a path or s3://bucket/key (got a URL)"
    if ".." in location.replace("\\", "/").split("/"):
        return "must not contain '..' segments"
    return None


class ModelSpec(SpecModel):
    """A model family of the core trainer, or a custom container (`image` + `command`)."""

    family: str | None = None
    featuriser: dict[str, Any] | None = None
    fixed_params: dict[str, Any] = Field(default_factory=dict)
    image: str | None = None
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def fields_for(cls, raw: Mapping[str, Any]) -> list[str]:
        if "image" in raw and "family" not in raw:
            return ["image", "command", "env", "fixed_params"]
        if "family" in raw and "image" not in raw:
            return ["family", "featuriser", "fixed_params"]
        return super().fields_for(raw)

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors: list[tuple[Loc, str]] = []
        if self.family is None and self.image is None:
            errors.append(((), "give either 'family' (one of the trainer's model families) or 'image' and 'command'"))
        elif self.family is not None and self.image is not None:
            errors.append((("image",), "cannot be combined with 'family': give one or the other"))
        elif self.family is not None:
            errors += [
                ((f,), "only used with a custom 'image'") for f in ("command", "env") if f in self.model_fields_set
            ]
            if self.family not in FAMILIES:
                names = ", ".join(repr(f) for f in FAMILIES)
                errors.append((("family",), f"must be one of {names} (got {show(self.family)})"))
            errors += self._featuriser_errors()
        else:
            errors += self._container_errors()
        if errors:
            raise problems(errors)
        return self

    def _featuriser_errors(self) -> list[tuple[Loc, str]]:
        if self.featuriser is None:
            self.featuriser = featuriser_from_spec(DEFAULT_FEATURISER).spec
            return []
        try:
            self.featuriser = featuriser_from_spec(self.featuriser).spec
        except ValueError as exc:
            return [(_sub_loc(("featuriser",), str(exc)), str(exc))]
        return []

    def _container_errors(self) -> list[tuple[Loc, str]]:
        errors: list[tuple[Loc, str]] = []
        if "featuriser" in self.model_fields_set:
            errors.append((("featuriser",), "only used with a model 'family' (the container featurises itself)"))
        assert self.image is not None
        if len(self.image) > 255 or not _IMAGE.match(self.image):
            errors.append(
                (("image",), f"must be a container image reference like repo/name:tag (got {show(self.image)})")
            )
        if not self.command:
            errors.append((("command",), "required with a custom image: the program and its arguments, as a list"))
        else:
            errors += [(("command", i), "must not be empty") for i, arg in enumerate(self.command) if not arg]
        for name in self.env or {}:
            if not _ENV_NAME.match(name):
                errors.append(
                    (("env", name), "must be a variable name: letters, digits and '_', not starting with a digit")
                )
        return errors

    def to_dict(self) -> dict[str, Any]:
        if self.family is not None:
            return {"family": self.family, "featuriser": self.featuriser, "fixed_params": dict(self.fixed_params)}
        return {
            "image": self.image,
            "command": list(self.command or []),
            "env": dict(self.env or {}),
            "fixed_params": dict(self.fixed_params),
        }


def _sub_loc(base: Loc, message: str) -> Loc:
    """The field a core-library message names ("parameter 'x' must ...") below `base`, if any."""
    match = _QUOTED_NAME.search(message)
    return (*base, match.group(1)) if match else base


class ObjectiveSpec(SpecModel):
    """A metric to optimise; `direction` defaults to the metric's natural one (rmse down, r2 up)."""

    metric: Annotated[str, pattern(_METRIC, "a metric name: letters, digits, '_', '.' or '-'")]
    direction: Literal["minimize", "maximize"] | None = None


class BudgetSpec(SpecModel):
    """When to stop: after `max_trials` trials, `max_time_seconds`, or too many failures."""

    max_trials: int | None = Field(None, ge=1, le=100_000)
    max_time_seconds: int | None = Field(None, ge=1, le=90 * 86_400)
    max_failed_trials: int | None = Field(None, ge=0, le=100_000)

    @model_validator(mode="after")
    def _some_limit(self) -> Self:
        if self.max_trials is None and self.max_time_seconds is None:
            raise problems([((), "give max_trials and/or max_time_seconds")])
        return self


class SamplerSpec(SpecModel):
    """Optuna sampler and its options (which options apply depends on `type`)."""

    type: SamplerType = "tpe"
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    n_startup_trials: int | None = Field(None, ge=0, le=100_000)
    n_ei_candidates: int | None = Field(None, ge=1, le=10_000)
    multivariate: bool | None = None
    group: bool | None = None
    constant_liar: bool | None = None
    deterministic_objective: bool | None = None
    sigma0: float | None = Field(None, gt=0)
    popsize: int | None = Field(None, ge=2, le=10_000)
    with_margin: bool | None = None
    use_separable_cma: bool | None = None

    @classmethod
    def fields_for(cls, raw: Mapping[str, Any]) -> list[str]:
        options = SAMPLER_OPTIONS.get(raw.get("type", "tpe"))  # type: ignore[arg-type]
        return ["type", *options] if options else super().fields_for(raw)

    @model_validator(mode="after")
    def _check(self) -> Self:
        allowed = SAMPLER_OPTIONS[self.type]
        errors: list[tuple[Loc, str]] = [
            ((name,), f"not an option of the {self.type} sampler; its options: {', '.join(allowed)}")
            for name in sorted(self.model_fields_set - {"type", *allowed})
        ]
        if self.group and self.multivariate is False:
            errors.append((("group",), "needs multivariate: true"))
        if self.with_margin and self.use_separable_cma:
            errors.append((("with_margin",), "cannot be combined with use_separable_cma"))
        if errors:
            raise problems(errors)
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in SAMPLER_OPTIONS[self.type]:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


class PrunerSpec(SpecModel):
    """Optuna pruner: "median" (default), "hyperband" or "none"."""

    type: PrunerType = "median"
    n_startup_trials: int | None = Field(None, ge=0, le=100_000)
    n_warmup_steps: int | None = Field(None, ge=0)
    interval_steps: int | None = Field(None, ge=1)
    n_min_trials: int | None = Field(None, ge=1)
    min_resource: int | None = Field(None, ge=1)
    max_resource: Any = None
    reduction_factor: int | None = Field(None, ge=2, le=100)
    bootstrap_count: int | None = Field(None, ge=0)

    @classmethod
    def fields_for(cls, raw: Mapping[str, Any]) -> list[str]:
        options = PRUNER_DEFAULTS.get(raw.get("type", "median"))  # type: ignore[arg-type]
        return ["type", *options] if options is not None else super().fields_for(raw)

    @model_validator(mode="after")
    def _check(self) -> Self:
        defaults = PRUNER_DEFAULTS[self.type]
        listed = f"its options: {', '.join(defaults)}" if defaults else "it takes no options"
        errors: list[tuple[Loc, str]] = [
            ((name,), f"not an option of the {self.type} pruner; {listed}")
            for name in sorted(self.model_fields_set - {"type", *defaults})
        ]
        if self.type == "hyperband" and self.max_resource is not None and self.max_resource != "auto":
            value = self.max_resource
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                errors.append((("max_resource",), f"must be 'auto' or an integer ≥ 1 (got {show(value)})"))
            elif value < (self.min_resource or 1):
                errors.append((("max_resource",), f"must be ≥ min_resource ({self.min_resource}) (got {value})"))
        if errors:
            raise problems(errors)
        for name, default in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, default)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **{name: getattr(self, name) for name in PRUNER_DEFAULTS[self.type]}}


class ResourcesSpec(SpecModel):
    """What one trial's job asks the backend for."""

    vcpu: float = Field(1, gt=0, le=256)
    memory_mib: int = Field(2048, ge=128, le=2_097_152)
    gpu: int = Field(0, ge=0, le=16)

    def to_dict(self) -> dict[str, Any]:
        vcpu = int(self.vcpu) if float(self.vcpu).is_integer() else self.vcpu
        return {"vcpu": vcpu, "memory_mib": self.memory_mib, "gpu": self.gpu}


class BackendSpec(SpecModel):
    """Where trials run: local processes, AWS Batch or Kubernetes Jobs; `image` overrides the trainer image."""

    type: BackendType = "local"
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    image: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.image is not None and (len(self.image) > 255 or not _IMAGE.match(self.image)):
            raise problems([(("image",), f"must be a container image reference (got {show(self.image)})")])
        if self.image is not None and self.type == "local":
            raise problems([(("image",), "the local backend runs the trainer as a process, not from an image")])
        return self

    def to_dict(self) -> dict[str, Any]:
        out = {"type": self.type, "resources": self.resources.to_dict()}
        if self.image is not None:
            out["image"] = self.image
        return out


class WarmStartSpec(SpecModel):
    """Trials to evaluate first: the best of an earlier experiment and/or given parameter sets."""

    experiment: int | None = Field(None, ge=1)
    params: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _some_source(self) -> Self:
        if self.experiment is None and self.params is None:
            raise problems([((), "give 'experiment' (an experiment id) and/or 'params' (a list of parameter sets)")])
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.experiment is not None:
            out["experiment"] = self.experiment
        if self.params is not None:
            out["params"] = [dict(p) for p in self.params]
        return out


class RegisterSpec(SpecModel):
    """Register the best trial's model as a new version of `model`, optionally moving `alias` to it."""

    model: Slug
    alias: AliasName | None = None


class ExperimentSpec(SpecModel):
    """A validated, normalised experiment spec. Build it with `parse_spec` (or `from_dict`)."""

    name: Slug
    description: Annotated[str, Field(max_length=5000)] | None = None
    dataset: DatasetSpec
    model: ModelSpec
    search_space: dict[str, ParamSpec]
    objective: list[ObjectiveSpec] | None = Field(None, min_length=1, max_length=8)
    budget: BudgetSpec
    parallelism: int = Field(1, ge=1, le=64)
    sampler: SamplerSpec | None = None
    pruner: PrunerSpec | None = None
    backend: BackendSpec = Field(default_factory=BackendSpec)
    trial_timeout_seconds: int = Field(DEFAULT_TRIAL_TIMEOUT, ge=1, le=7 * 86_400)
    retries: int = Field(1, ge=0, le=5)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    # False: a trial proposed with the parameters of a complete trial reuses that trial's result
    # instead of training the same model again (see experiments.launcher.fill).
    repeat_identical_trials: bool = False
    warm_start: WarmStartSpec | None = None
    # `register` is a classmethod every pydantic model inherits (from ABCMeta), hence the alias
    registration: RegisterSpec | None = Field(None, alias="register")

    @field_validator("objective", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return [value]
        if value is not None and not isinstance(value, list):
            raise ValueError(f"must be {{metric: ..., direction: ...}} or a list of them (got {show(value)})")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        errors = _check_objectives(self)
        errors += _check_search_space(self)
        errors += _check_trainer_params(self)
        errors += _complete_sampler(self)
        errors += _complete_pruner(self)
        errors += _check_backend(self)
        errors += _check_warm_start(self)
        if self.dataset.split.seed is None:
            self.dataset.split.seed = self.seed
        if errors:
            raise problems(errors)
        return self

    # Construction ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any) -> ExperimentSpec:
        """Validate plain data; `SpecError` listing every problem with its field's dotted path."""
        if not isinstance(data, Mapping):
            kind = "nothing" if data is None else f"a {type(data).__name__}"
            raise SpecError([{"field": "", "message": f"the spec must be a mapping (JSON object), not {kind}"}])
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            unwrapped = ["objective"] if isinstance(data.get("objective"), Mapping) else []
            raise translate(exc, cls, data, unwrapped=unwrapped) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> ExperimentSpec:
        return cls.from_dict(load_text(text, "json"))

    @classmethod
    def from_yaml(cls, text: str | bytes) -> ExperimentSpec:
        return cls.from_dict(load_text(text, "yaml"))

    # Views ------------------------------------------------------------------------------------------
    @property
    def objectives(self) -> list[ObjectiveSpec]:
        assert self.objective is not None
        return list(self.objective)

    @property
    def directions(self) -> list[str]:
        """One "minimize"/"maximize" per objective, in order (what Optuna's `create_study` takes)."""
        return [o.direction or "minimize" for o in self.objectives]

    @property
    def is_multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def uses_trainer(self) -> bool:
        """True for a model family of the core trainer, False for a custom container."""
        return self.model.family is not None

    @property
    def conditional_params(self) -> list[str]:
        return [name for name, p in self.search_space.items() if p.condition is not None]

    def to_dict(self) -> dict[str, Any]:
        """The normalised spec with every default filled in: what is stored, and parses back to itself."""
        assert self.sampler is not None
        assert self.pruner is not None
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "dataset": self.dataset.to_dict(),
            "model": self.model.to_dict(),
            "search_space": {name: p.to_dict() for name, p in self.search_space.items()},
            "objective": [{"metric": o.metric, "direction": o.direction} for o in self.objectives],
            "budget": self.budget.model_dump(),
            "parallelism": self.parallelism,
            "sampler": self.sampler.to_dict(),
            "pruner": self.pruner.to_dict(),
            "backend": self.backend.to_dict(),
            "trial_timeout_seconds": self.trial_timeout_seconds,
            "retries": self.retries,
            "seed": self.seed,
            "repeat_identical_trials": self.repeat_identical_trials,
        }
        if self.warm_start is not None:
            out["warm_start"] = self.warm_start.to_dict()
        if self.registration is not None:
            out["register"] = self.registration.model_dump()
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def parse_spec(source: Mapping[str, Any] | str | bytes, *, format: Format | None = None) -> ExperimentSpec:
    """A spec from a mapping, or JSON/YAML text (`format=None`: JSON if it starts with "{").

    Raises `SpecError` (a `ValueError`) with every problem found.
    """
    if isinstance(source, str | bytes):
        return ExperimentSpec.from_dict(load_text(source, format))
    return ExperimentSpec.from_dict(source)


# Cross-field checks ---------------------------------------------------------------------------------
def _check_objectives(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    errors: list[tuple[Loc, str]] = []
    task = spec.dataset.task
    if spec.objective is None:
        if not spec.uses_trainer:
            return [(("objective",), "required with a custom image: name the metric the container reports")]
        spec.objective = [ObjectiveSpec(metric=DEFAULT_METRIC[task])]
    seen: dict[str, int] = {}
    for i, objective in enumerate(spec.objective):
        loc: Loc = ("objective", i)
        metric = objective.metric
        if metric in seen:
            errors.append(((*loc, "metric"), f"{metric!r} is already objective[{seen[metric]}]"))
        seen.setdefault(metric, i)
        natural = DIRECTIONS.get(metric)
        if spec.uses_trainer:
            allowed = METRICS_OF_TASK[task]
            if metric not in allowed:
                listed = ", ".join(allowed)
                errors.append(
                    ((*loc, "metric"), f"must be a {task} metric the trainer reports: {listed} (got {metric!r})")
                )
            elif objective.direction is not None and objective.direction != natural:
                errors.append(
                    (
                        (*loc, "direction"),
                        f"{metric} should be {natural}d; {objective.direction} would seek the worst model",
                    )
                )
        if objective.direction is None:
            if natural is None:
                known = ", ".join(DIRECTIONS)
                errors.append(((*loc, "direction"), f"required: {metric!r} has no default direction (known: {known})"))
            else:
                objective.direction = natural  # type: ignore[assignment]
    return errors


def _check_search_space(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    space = spec.search_space
    if not space:
        return [(("search_space",), "needs at least one parameter")]
    errors: list[tuple[Loc, str]] = []
    if len(space) > MAX_PARAMS:
        errors.append((("search_space",), f"has {len(space)} parameters; at most {MAX_PARAMS}"))
    order = {name: i for i, name in enumerate(space)}
    for name, param in space.items():
        if not _PARAM_NAME.match(name):
            message = "parameter names use letters, digits, '_' or '-', start with a letter or '_', ≤ 64 characters"
            errors.append((("search_space", name), message))
        condition = param.condition
        if condition is None:
            continue
        loc: Loc = ("search_space", name, "condition")
        other = condition.param
        if other == name:
            errors.append(((*loc, "param"), "a parameter cannot depend on itself"))
        elif other not in space:
            errors.append(((*loc, "param"), f"unknown parameter {other!r}; a condition refers to an earlier parameter"))
        elif order[other] > order[name]:
            cycle = _cycle(space, name)
            message = (
                f"conditions form a cycle: {' → '.join(cycle)}"
                if cycle
                else f"{other!r} is declared after {name!r}; a condition may only refer to an earlier parameter"
            )
            errors.append(((*loc, "param"), message))
        else:
            errors += _condition_value_errors(loc, condition, space[other])
    return errors


def _cycle(space: Mapping[str, ParamSpec], start: str) -> list[str] | None:
    chain = [start]
    current = space[start]
    while current.condition is not None and current.condition.param in space:
        nxt = current.condition.param
        if nxt == start:
            return [*chain, start]
        if nxt in chain:
            return None  # a cycle not through `start`: reported for its own members
        chain.append(nxt)
        current = space[nxt]
    return None


def _condition_value_errors(loc: Loc, condition: Condition, target: ParamSpec) -> list[tuple[Loc, str]]:
    if target.type == "float" and target.step is None:
        message = (
            f"{condition.param!r} is a continuous float, which never equals a given value exactly; "
            "condition on an int, a categorical or a float with a step"
        )
        return [((*loc, "param"), message)]
    errors: list[tuple[Loc, str]] = []
    where: list[Loc] = [("in", i) for i in range(len(condition.values))] if condition.in_ is not None else [("equals",)]
    for sub, value in zip(where, condition.values, strict=True):
        _, problem = target.check_value(value)
        if problem is not None:
            errors.append(((*loc, *sub), f"never holds: {condition.param} {problem}"))
    return errors


def _check_trainer_params(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    """Fixed and searched parameters of a trainer family are checked with the trainer's own rules."""
    family = spec.model.family
    if family is None or family not in SCHEMAS:
        return []
    schema = SCHEMAS[family]
    known = ", ".join(schema)
    fixed = spec.model.fixed_params
    unknown = [name for name in fixed if name not in schema]
    errors = [(("model", "fixed_params", name), f"not a parameter of {family}; known: {known}") for name in unknown]
    fixed_ok = not unknown
    if fixed_ok:
        try:
            validate_family_params(family, spec.dataset.task, fixed, (spec.model.featuriser or {}).get("type"))
        except ValueError as exc:
            errors.append((_sub_loc(("model", "fixed_params"), str(exc)), str(exc)))
            fixed_ok = False
    for name, param in spec.search_space.items():
        loc: Loc = ("search_space", name)
        if name not in schema:
            errors.append((loc, f"not a parameter of {family}; known: {known}"))
            continue
        if name in fixed:
            errors.append((loc, "also given in model.fixed_params: fix it or search it, not both"))
            continue
        if not fixed_ok:
            continue
        candidates: list[tuple[Loc, Any]] = (
            [(("choices", i), c) for i, c in enumerate(param.choices or [])]
            if param.type == "categorical"
            else [(("low",), param.low), (("high",), param.high)]
        )
        found = [(sub, p) for sub, value in candidates if (p := _trainer_problem(spec, name, value)) is not None]
        integral = param.type == "float" and all(float(v).is_integer() for _, v in candidates)
        if found and integral and all(_trainer_problem(spec, name, int(v)) is None for _, v in candidates):
            errors.append(((*loc, "type"), f"{name} takes integers: use type: int"))
            continue
        errors += [((*loc, *sub), message) for sub, message in found]
    return errors


def _trainer_problem(spec: ExperimentSpec, name: str, value: Any) -> str | None:
    """What the trainer says about `name=value` on top of the fixed parameters (None: fine)."""
    assert spec.model.family is not None
    params = {**spec.model.fixed_params, name: value}
    try:
        validate_family_params(spec.model.family, spec.dataset.task, params, (spec.model.featuriser or {}).get("type"))
    except ValueError as exc:
        return str(exc)
    return None


def _complete_sampler(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    if spec.sampler is None:
        spec.sampler = SamplerSpec()
    sampler = spec.sampler
    if sampler.seed is None:
        sampler.seed = spec.seed
    for name, default in SAMPLER_DEFAULTS.get(sampler.type, {}).items():
        if getattr(sampler, name) is None:
            setattr(sampler, name, default)
    if sampler.type == "tpe" and sampler.constant_liar is None:
        # Parallel trials would otherwise all be sampled from the same history and land close together.
        sampler.constant_liar = spec.parallelism > 1
    errors: list[tuple[Loc, str]] = []
    missing = [m for m in SAMPLER_REQUIRES.get(sampler.type, ()) if find_spec(m) is None]
    if missing:
        errors.append(
            (("sampler", "type"), f"the {sampler.type} sampler needs {', '.join(missing)}, not installed here")
        )
    if sampler.type == "cmaes":
        errors += _cmaes_errors(spec)
    elif sampler.type == "grid":
        errors += _grid_errors(spec)
    return errors


def _cmaes_errors(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    errors: list[tuple[Loc, str]] = []
    if spec.objective is not None and len(spec.objective) > 1:
        errors.append((("sampler", "type"), "cmaes optimises a single objective; use tpe, gp or random"))
    categorical = [name for name, p in spec.search_space.items() if p.type == "categorical"]
    if categorical:
        names = ", ".join(categorical)
        errors.append((("sampler", "type"), f"cmaes cannot sample categorical parameters ({names}); use tpe or gp"))
    if spec.conditional_params:
        names = ", ".join(spec.conditional_params)
        errors.append((("sampler", "type"), f"cmaes needs a fixed search space, not conditional parameters ({names})"))
    return errors


def _grid_errors(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    errors: list[tuple[Loc, str]] = []
    points = 1
    for name, param in spec.search_space.items():
        size = param.grid_size()
        if size is None:
            errors.append((("search_space", name, "step"), "the grid sampler needs a step for a float parameter"))
        else:
            points *= size
        if param.condition is not None:
            message = "the grid sampler does not support conditional parameters (use random or tpe)"
            errors.append((("search_space", name, "condition"), message))
    if not errors and points > MAX_GRID_POINTS:
        errors.append((("search_space",), f"the grid has {points} points; at most {MAX_GRID_POINTS}"))
    if spec.warm_start is not None:
        errors.append((("warm_start",), "not used with the grid sampler, which visits every grid point anyway"))
    return errors


def _complete_pruner(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    multi = spec.objective is not None and len(spec.objective) > 1
    if spec.pruner is None:
        spec.pruner = PrunerSpec.model_validate({"type": "none" if multi else "median"})
    if multi and spec.pruner.type != "none":
        return [(("pruner", "type"), "pruning needs a single objective (Optuna cannot prune multi-objective trials)")]
    return []


def _check_backend(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    errors: list[tuple[Loc, str]] = []
    if spec.model.image is not None and spec.backend.type == "local":
        errors.append((("backend", "type"), "a custom image runs in a container: use 'batch' or 'kubernetes'"))
    if spec.model.image is not None and spec.backend.image is not None:
        errors.append((("backend", "image"), "not used with a custom model image (model.image is what runs)"))
    return errors


def _check_warm_start(spec: ExperimentSpec) -> list[tuple[Loc, str]]:
    if spec.warm_start is None or spec.warm_start.params is None:
        return []
    errors: list[tuple[Loc, str]] = []
    normalised = []
    for i, params in enumerate(spec.warm_start.params):
        values, problems_ = param_set_errors(spec.search_space, params)
        errors += [(("warm_start", "params", i, *loc), message) for loc, message in problems_]
        normalised.append(values)
    if not errors:
        spec.warm_start.params = normalised
    return errors
