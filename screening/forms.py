from django import forms

from portal.teams.selectors import teams_for_user


class LibraryUploadForm(forms.Form):
    team = forms.ModelChoiceField(queryset=None, to_field_name="slug", empty_label=None)
    name = forms.CharField(max_length=200)
    file = forms.FileField(help_text="SMILES, CSV/TSV or SDF, optionally gzipped.")
    smiles_column = forms.CharField(required=False, help_text="CSV/TSV only; detected when empty.")
    id_column = forms.CharField(required=False, help_text="Optional: the column (or SDF field) holding compound ids.")
    keep_duplicates = forms.BooleanField(
        required=False, help_text="Keep repeated structures (they are counted anyway)."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for_user(user)
