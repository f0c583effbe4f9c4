"""Create (or refresh) the demo team and its user, and print how to sign in."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from portal.teams.models import Membership, Team
from portal.teams.services import membership_set

DEMO_TEAM = "Demo Discovery"
DEMO_USER = "demo"


class Command(BaseCommand):
    help = "Create the demo team and user (idempotent) and print the credentials."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Use this password instead of a generated one.")

    def handle(self, *args, password: str | None = None, **options):
        password = password or self._remembered_password()
        team, _ = Team.objects.get_or_create(
            slug="demo", defaults={"name": DEMO_TEAM, "description": "Demo data for trying the portal."}
        )
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USER, defaults={"email": "demo@example.com"})
        user.set_password(password)
        user.is_staff = True  # the demo user may open Django admin for the demo team's objects
        user.save()
        membership_set(team=team, user=user, role=Membership.Role.ADMIN)
        self.stdout.write(self.style.SUCCESS(f"Demo team '{team.name}': sign in as {DEMO_USER} / {password}"))

    def _remembered_password(self) -> str:
        """Generated once per installation and kept beside the database, so reruns keep it."""
        path = Path(settings.VAR_DIR) / "demo-password"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(9)
        path.write_text(password + "\n")
        path.chmod(0o600)
        return password
