"""The experiments page's forms: launching (a team and a spec, YAML or JSON, checked by the same parser
as the API) and uploading a dataset file for specs to name as `datasets/<file name>`."""

from __future__ import annotations

from pathlib import Path

from django import forms

from portal.teams.models import Team
from portal.teams.selectors import teams_for_user

EXAMPLE = Path(__file__).with_name("examples") / "demo-solubility-rf.yaml"


def _your_teams(field: forms.ModelChoiceField, user) -> None:
    teams = teams_for_user(user).order_by("name")
    field.queryset = teams
    if teams.count() == 1:
        field.initial = teams.first()


class ExperimentForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    spec = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
        strip=False,
        max_length=100_000,
        help_text="YAML or JSON; the format is in experiments/core/SPEC.md. Errors name the field. "
        "Train on a dataset uploaded here with dataset.location: datasets/<file name>.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _your_teams(self.fields["team"], user)
        if not self.is_bound and EXAMPLE.exists():
            self.fields["spec"].initial = EXAMPLE.read_text()


class DatasetUploadForm(forms.Form):
    prefix = "dataset"

    team = forms.ModelChoiceField(queryset=Team.objects.none())
    file = forms.FileField(help_text="CSV/TSV, SMILES or SDF, gzipped or not: SMILES and the property to learn.")
    name = forms.CharField(
        max_length=200, required=False, help_text="Optional: the file name to store it as (else the file's own)."
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _your_teams(self.fields["team"], user)
