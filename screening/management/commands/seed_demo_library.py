"""Give the demo team a library to screen: RDKit's NCI sample (5,000 real compounds, shipped inside the
rdkit wheel). The ingest is queued; the demo's worker picks it up once it starts."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from rdkit import RDConfig

from portal.teams.models import Team
from screening import services
from screening.models import Library

NAME = "NCI sample (first 5K)"


class Command(BaseCommand):
    help = "Create the demo library unless the team already has it (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--team", default="demo")
        parser.add_argument("--user", default="demo")

    def handle(self, *args, team: str, user: str, **options):
        owner = Team.objects.filter(slug=team).first()
        if owner is None:
            raise CommandError(f"No team {team!r}: run seed_demo first.")
        if Library.objects.filter(team=owner, name=NAME).exclude(status=Library.Status.FAILED).exists():
            self.stdout.write(f"Demo library '{NAME}' already present.")
            return
        source = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
        with source.open("rb") as handle:
            library = services.library_create(
                team=owner, name=NAME, upload=File(handle, name=source.name), filename=source.name,
                created_by=get_user_model().objects.filter(username=user).first(),
                description="5,000 NCI compounds with real-world oddities, from the RDKit distribution.",
            )  # fmt: skip
        self.stdout.write(self.style.SUCCESS(f"Demo library '{NAME}' queued for ingest (id {library.pk})."))
