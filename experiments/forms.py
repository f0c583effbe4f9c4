"""The launch form: a team and a spec (YAML or JSON), checked by the same parser as the API."""

from __future__ import annotations

from pathlib import Path

from django import forms

from portal.teams.models import Team
from portal.teams.selectors import teams_for_user

EXAMPLE = Path(__file__).with_name("examples") / "demo-solubility-rf.yaml"


class ExperimentForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    spec = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
        strip=False,
        max_length=100_000,
        help_text="YAML or JSON; the format is in experiments/core/SPEC.md. Errors name the field.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        teams = teams_for_user(user).order_by("name")
        self.fields["team"].queryset = teams
        if teams.count() == 1:
            self.fields["team"].initial = teams.first()
        if not self.is_bound and EXAMPLE.exists():
            self.fields["spec"].initial = EXAMPLE.read_text()
